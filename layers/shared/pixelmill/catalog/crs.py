"""What a CRS argument may contain: an allowlist, checked before PROJ sees the text.

PROJ opens files that a CRS names: grids (``+nadgrids=``, ``+geoidgrids=``, a
WKT ``EXTENSION["PROJ4_GRIDS", …]``), init files (``+init=``), parameter
files (WKT2 ``PARAMETERFILE``), deformation models; and it does so while the
text is being *parsed*. So a CRS argument is one of three forms, each read
here against a list of what it may hold, and anything else is refused before
rasterio (GDAL, PROJ) parses it:

- an authority code from PROJ's database (``EPSG:3857``, its OGC URN);
- a WKT (1 or 2) of a geographic or projected CRS, made only of the nodes in
  ``WKT_KEYWORDS``, none of whose strings holds a PROJ parameter (``=``);
- a PROJ string whose every parameter is in ``PROJ_PARAMETERS``, with plain
  values (no path, no URL).

Once parsed, the CRS's own PROJ parameters (``CRS.to_dict()``: what PROJ
resolves it to, e.g. ``+datum=NAD27`` that implies NAD27's grid files) must
pass the same list (``check_resolved``). PROJ itself runs with its network
off and without its user-writable directory (template.yaml's environment).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Authorities of PROJ's database (proj.db); PROJ answers their codes from it.
AUTHORITIES = frozenset({"EPSG", "ESRI", "OGC", "IGNF", "IAU_2015", "NKG", "NRCAN"})
_AUTHORITY_CODE = re.compile(r"^(?P<authority>[A-Za-z][A-Za-z0-9_]*):(?P<code>[A-Za-z0-9_.]+)$")
_OGC_URN = re.compile(r"^urn:ogc:def:crs:(?P<authority>[A-Za-z][A-Za-z0-9_]*):[0-9.]*:(?P<code>[A-Za-z0-9_.]+)$", re.I)

# WKT nodes of geographic and projected CRSs (WKT1 as GDAL and ESRI write it, WKT2:2015 and
# :2019). Left out on purpose: EXTENSION (PROJ4 and PROJ4_GRIDS name grids), PARAMETERFILE,
# BOUNDCRS and its transformations, vertical and compound CRSs (geoid models are grids),
# DYNAMIC/MODEL (deformation models are files), URI.
WKT_KEYWORDS = frozenset(
    {
        # WKT1
        "GEOGCS", "PROJCS", "DATUM", "SPHEROID", "PRIMEM", "UNIT", "PROJECTION", "PARAMETER", "AUTHORITY",
        "AXIS", "TOWGS84",
        # WKT2
        "GEOGCRS", "GEOGRAPHICCRS", "GEODCRS", "GEODETICCRS", "PROJCRS", "PROJECTEDCRS", "BASEGEOGCRS",
        "BASEGEODCRS", "GEODETICDATUM", "TRF", "ENSEMBLE", "MEMBER", "ENSEMBLEACCURACY", "ELLIPSOID",
        "PRIMEMERIDIAN", "ANCHOR", "ANCHOREPOCH", "CONVERSION", "METHOD", "CS", "ORDER", "MERIDIAN", "BEARING",
        "ANGLEUNIT", "LENGTHUNIT", "SCALEUNIT", "ID", "CITATION", "VERSION", "USAGE", "SCOPE", "AREA", "BBOX",
        "VERTICALEXTENT", "TIMEEXTENT", "REMARK",
    }
)  # fmt: skip
# What a WKT may be: a geographic or projected CRS.
WKT_CRS_KEYWORDS = frozenset(
    {"GEOGCS", "PROJCS", "GEOGCRS", "GEOGRAPHICCRS", "GEODCRS", "GEODETICCRS", "PROJCRS", "PROJECTEDCRS"}
)
_WKT_START = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*[\[(]")
_WKT_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"]|"")*")|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<number>[-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?)'
    r"|(?P<open>[\[(])|(?P<close>[\])])|(?P<comma>,))"
)

# PROJ string parameters of a CRS (projections, ellipsoids, datums, units, axes). None names
# a file: not init, nadgrids (except its built-in @null), geoidgrids, grids, file, step.
PROJ_PARAMETERS = frozenset(
    {
        "proj", "type", "ellps", "datum", "towgs84", "pm", "units", "to_meter", "vunits", "vto_meter", "axis",
        "a", "b", "rf", "f", "es", "e", "R", "R_A", "R_V", "R_a", "R_g", "R_h", "R_lat_a", "R_lat_g",
        "lat_0", "lon_0", "lat_1", "lat_2", "lat_3", "lon_1", "lon_2", "lon_3", "lat_ts", "lat_b", "lonc",
        "alpha", "gamma", "azi", "tilt", "h", "x_0", "y_0", "k", "k_0", "zone", "south", "north", "n", "m", "q",
        "W", "M", "theta", "no_defs", "wktext", "over", "approx", "algo", "no_uoff", "no_rot", "no_off", "guam",
        "czech", "sweep", "variant_c", "mode", "aperture", "resolution", "orient", "lsat", "path", "t_epoch",
        "geoc", "rot", "nadgrids",
    }
)  # fmt: skip
# PROJ's own datums that are only parameters; NAD27 is left out: it is defined by grid files.
PROJ_DATUMS = frozenset(
    {"WGS84", "GGRS87", "NAD83", "potsdam", "carthage", "hermannskogel", "ire65", "nzgd49", "OSGB36"}
)
_PROJ_VALUE = re.compile(r"^[A-Za-z0-9_.,:-]*$")

FILE_REFUSAL = "a CRS may not name files or URLs (grids, init files, parameter files, PROJ extensions)"


def crs_form(value: str) -> str:
    """Which form a CRS text has, for messages: "code", "PROJ string" or "WKT"."""
    if _AUTHORITY_CODE.match(value) or _OGC_URN.match(value):
        return "code"
    return "PROJ string" if value.lstrip().startswith(("+", "proj=")) else "WKT"


def check_crs_text(value: str) -> None:
    """ValueError unless ``value`` is an authority code, a WKT or a PROJ string made only
    of what the allowlists here name (so that parsing it opens no file)."""
    wkt = _WKT_START.match(value)
    if value.startswith(("+proj=", "proj=")):
        check_proj_parameters(_proj_parameters(value))
    elif wkt:
        if wkt.group(1).upper() not in WKT_CRS_KEYWORDS:
            raise ValueError(f"a {wkt.group(1)} is not a geographic or projected CRS: {FILE_REFUSAL}")
        _check_wkt(value)
    else:
        found = _AUTHORITY_CODE.match(value) or _OGC_URN.match(value)
        if not found:
            raise ValueError("give an authority code (EPSG:3857), a WKT or a PROJ string (+proj=...)")
        if found.group("authority").upper() not in AUTHORITIES:
            raise ValueError(
                f"unknown authority {found.group('authority')}: use one of {', '.join(sorted(AUTHORITIES))}"
            )


def check_proj_parameters(parameters: Mapping[str, object]) -> None:
    """ValueError unless every PROJ parameter is one a CRS may have, with a plain value:
    for a PROJ string before it is parsed, and for what PROJ resolved any CRS to."""
    for name, value in parameters.items():
        text = "" if value is True or value is None else str(value)
        if name not in PROJ_PARAMETERS or (name == "nadgrids" and text != "@null"):
            raise ValueError(f"+{name} is not accepted: {FILE_REFUSAL}")
        if name != "nadgrids" and not _PROJ_VALUE.match(text):
            raise ValueError(f"+{name}={text} is not a plain value: {FILE_REFUSAL}")
        if name == "datum" and text not in PROJ_DATUMS:
            raise ValueError(
                f"+datum={text} is defined by grid files, which are not used: give its ellipsoid and towgs84"
            )
        if name == "proj" and text == "pipeline":
            raise ValueError("a PROJ pipeline is an operation, not a CRS")


def _proj_parameters(value: str) -> dict[str, object]:
    parameters: dict[str, object] = {}
    for token in value.split():
        name, has_value, text = token.lstrip("+").partition("=")
        if not name or name in parameters:
            raise ValueError(f"{token!r}: each PROJ parameter once, as +name or +name=value")
        parameters[name] = text if has_value else True
    return parameters


def _check_wkt(value: str) -> None:
    """ValueError unless ``value`` is well-formed WKT of the nodes in WKT_KEYWORDS."""
    position, depth, previous = 0, 0, ""
    while position < len(value):
        token = _WKT_TOKEN.match(value, position)
        if token is None or token.end() == position:
            if value[position:].strip():
                raise ValueError(f"not WKT at character {position}")
            break
        position = token.end()
        kind = token.lastgroup or ""
        if kind == "open":
            if previous.upper() not in WKT_KEYWORDS:
                raise ValueError(f"WKT node {previous or '['} is not accepted: {FILE_REFUSAL}")
            depth += 1
        elif kind == "close":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced WKT brackets at character {position}")
        elif kind == "string" and "=" in token.group(kind):
            raise ValueError(f"WKT string {token.group(kind)[:60]} holds a PROJ parameter: {FILE_REFUSAL}")
        previous = token.group(kind) if kind == "word" else ""
    if depth != 0:
        raise ValueError("unbalanced WKT brackets")
