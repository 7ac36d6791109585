#!/bin/sh
# breakfix test bed CNI for kind nodes (runs in a DaemonSet pod on the host network).
# Writes this node's bridge CNI config from its spec.podCIDR and keeps a route to every other
# node's pod CIDR through that node's address. kubectl is the node's own (mounted read-only).
set -eu
sa=/var/run/secrets/kubernetes.io/serviceaccount
# The kubernetes Service (kube-proxy runs before any CNI): node names do not resolve in this pod.
server="https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT"
conf=/etc/cni/net.d/10-breakfix-bridge.conflist
kube() {
    kubectl --server="$server" --certificate-authority="$sa/ca.crt" --token="$(cat "$sa/token")" "$@"
}
while :; do
    if kube get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.spec.podCIDR} {.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}' > /tmp/nodes.new; then
        while read -r name cidr ip; do
            [ -n "$cidr" ] && [ -n "$ip" ] || continue
            if [ "$name" = "$NODE_NAME" ]; then
                cat > /tmp/conf.new <<CONF
{
  "cniVersion": "1.0.0",
  "name": "breakfix-bridge",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "$cidr"}]], "routes": [{"dst": "0.0.0.0/0"}]}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
CONF
                if ! cmp -s /tmp/conf.new "$conf"; then
                    cp /tmp/conf.new "$conf.tmp" && mv "$conf.tmp" "$conf"
                    echo "wrote $conf for $cidr"
                fi
            else
                ip route replace "$cidr" via "$ip"
            fi
        done < /tmp/nodes.new
    fi
    sleep 5
done
