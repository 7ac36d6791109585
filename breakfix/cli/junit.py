"""JUnit XML for grade reports, so CI systems and LMS importers can read them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from breakfix.results import GradeReport


def write_junit(reports: list[GradeReport], path: Path) -> None:
    """Write REPORTS (one per lab running) as JUnit testsuites, one testcase per check."""
    path.write_text(junit_xml([(f"breakfix.{report.lab}", report) for report in reports]))


def junit_xml(suites: list[tuple[str, GradeReport]]) -> str:
    """Reports as JUnit XML, each a named testsuite (an exam: one suite per student)."""
    root = ET.Element("testsuites")
    for name, report in suites:
        root.append(_suite(name, report))
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _suite(name: str, report: GradeReport) -> ET.Element:
    failures = sum(1 for c in report.checks if c.status == "fail")
    errors = sum(1 for c in report.checks if c.status == "error")
    suite = ET.Element(
        "testsuite",
        name=name,
        tests=str(len(report.checks)),
        failures=str(failures),
        errors=str(errors),
        time=f"{sum(c.seconds for c in report.checks):.2f}",
    )
    for check in report.checks:
        case = ET.SubElement(suite, "testcase", classname=name, name=check.name, time=f"{check.seconds:.2f}")
        if check.status != "pass":
            tag = "failure" if check.status == "fail" else "error"
            node = ET.SubElement(case, tag, message=check.message)
            node.text = check.hint or check.message
    return suite
