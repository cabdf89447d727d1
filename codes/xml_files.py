"""Reading the XML releases of CMS and CDC."""

import xml.etree.ElementTree as ET
from pathlib import Path

from codes.errors import SourceFileError


def parse_xml(path: Path) -> ET.Element:
    """The root element of an XML file; SourceFileError if unreadable or not XML."""
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as error:
        raise SourceFileError(f"{path} is not valid XML: {error}") from error
    except OSError as error:
        raise SourceFileError(f"cannot read {path}: {error}") from error
