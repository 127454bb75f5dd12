"""No CRS argument makes PROJ open a file or reach the network: observed, not string-matched.

A corpus of CRS texts that name files (grids, init files, parameter files, PROJ
extensions; by absolute path, relative to the working directory and by bare name
in PROJ's user-writable directory) is parsed the way the API and the worker do,
in a fresh interpreter with the PROJ environment template.yaml gives the
functions. The kernel reports every open of the files they name (inotify on
their directory), and an HTTP server stands in for PROJ's grid CDN. Control runs
show that both observations see PROJ when it does open or fetch.
"""

from __future__ import annotations

import ctypes
import json
import os
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from infra.template import load_template

ROOT = Path(__file__).resolve().parents[2]
GRID = "canary_grid.gsb"
INIT = "canary_init"
# The grid PROJ looks for between WGS 84 and the British National Grid (EPSG:27700).
OSTN15 = "uk_os_OSTN15_NTv2_OSGBtoETRS.tif"


def corpus(directory: Path) -> list[str]:
    """CRS texts that would make PROJ open a file in ``directory`` (or its working directory)."""
    grid, init = directory / GRID, directory / INIT
    sphere = 'SPHEROID["s",6378137,298.257223563]'
    geogcs = 'GEOGCS["x",DATUM["d",{}],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]'
    return [
        # The report's case: a WKT1 EXTENSION that GDAL turns into +nadgrids
        geogcs.format(f'{sphere},EXTENSION["PROJ4_GRIDS","{grid}"]'),
        geogcs.format(f'{sphere},EXTENSION["PROJ4_GRIDS","{GRID}"]'),
        geogcs.format(f'{sphere},extension["proj4_grids","{grid}"]'),
        geogcs.format(f'{sphere},EXTENSION("PROJ4_GRIDS","{grid}")'),
        f'PROJCS["x",{geogcs.format(sphere)},PROJECTION["Mercator_1SP"],EXTENSION["PROJ4",'
        f'"+proj=merc +ellps=WGS84 +nadgrids={grid}"],UNIT["metre",1]]',
        # A vertical CRS with a geoid grid, inside a compound CRS
        f'COMPD_CS["x",{geogcs.format(sphere)},VERT_CS["v",VERT_DATUM["v",2005,EXTENSION["PROJ4_GRIDS",'
        f'"{grid}"]],UNIT["metre",1]]]',
        # WKT2: a bound CRS whose transformation reads a parameter file; a PROJ-based method
        f'BOUNDCRS[SOURCECRS[GEOGCRS["x",DATUM["d",ELLIPSOID["s",6378137,298.257223563]],CS[ellipsoidal,2],'
        f'AXIS["lat",north],AXIS["lon",east],ANGLEUNIT["degree",0.0174532925199433]]],TARGETCRS[GEOGCRS["WGS 84",'
        f'DATUM["World Geodetic System 1984",ELLIPSOID["WGS 84",6378137,298.257223563]],CS[ellipsoidal,2],'
        f'AXIS["lat",north],AXIS["lon",east],ANGLEUNIT["degree",0.0174532925199433]]],ABRIDGEDTRANSFORMATION['
        f'"t",METHOD["NTv2"],PARAMETERFILE["Latitude and longitude difference file","{grid}"]]]',
        f'PROJCRS["x",BASEGEOGCRS["WGS 84",DATUM["d",ELLIPSOID["WGS 84",6378137,298.257223563]]],'
        f'CONVERSION["c",METHOD["PROJ hgridshift grids={grid}"]],CS[Cartesian,2],AXIS["e",east],'
        f'AXIS["n",north],LENGTHUNIT["metre",1]]',
        f'GEOGCRS["x",DYNAMIC[FRAMEEPOCH[2010],MODEL["{grid}"]],DATUM["d",ELLIPSOID["s",6378137,298.257]],'
        f'CS[ellipsoidal,2],AXIS["lat",north],AXIS["lon",east],ANGLEUNIT["degree",0.0174532925199433]]',
        # PROJ strings: grids, geoid grids, init files, operations that read files
        f"+proj=longlat +ellps=WGS84 +nadgrids={grid}",
        f"+proj=longlat +ellps=WGS84 +nadgrids=@{grid}",
        f"+proj=longlat +ellps=WGS84 +nadgrids=@null,{grid}",
        f"+proj=longlat +ellps=WGS84 +nadgrids={GRID}",
        f"+proj=longlat +ellps=WGS84 +geoidgrids={grid}",
        f"+proj=longlat +ellps=WGS84 +nadgrids={OSTN15}",
        f"+init={init}:1",
        f"+proj=longlat +init={init}:1",
        f"+proj=longlat +init={INIT}:1",
        f"+proj=hgridshift +grids={grid}",
        f"+proj=pipeline +step +proj=hgridshift +grids={grid}",
        f"+proj=tinshift +file={grid}",
        f"+proj=longlat +ellps=WGS84 +towgs84={grid}",
        "+proj=longlat +datum=NAD27",  # NAD27 is defined by grid files
        # Not a CRS form at all: files and URLs GDAL would read
        str(grid),
        f"file://{grid}",
        GRID,
        "http://127.0.0.1:9/crs.wkt",
        f"ESRI::{grid}",
        f"DICT:{grid},1",
        f"PROJ:{grid}",
        f'{{"type": "GeographicCRS", "name": "x", "datum": {{"name": "d", "ellipsoid": {{"name": "s", '
        f'"semi_major_axis": 6378137, "inverse_flattening": 298.257223563}}}}, "extension": "{grid}"}}',
    ]


IN_OPEN, IN_ISDIR = 0x20, 0x40000000


@contextmanager
def opened_files(directory: Path) -> Iterator[list[str]]:
    """The names of files in ``directory`` any process opens meanwhile, as the kernel reports them."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0 or libc.inotify_add_watch(fd, str(directory).encode(), IN_OPEN) < 0:
        pytest.skip(f"inotify is not available: errno {ctypes.get_errno()}")
    names: list[str] = []
    try:
        yield names
        data = b""
        while True:
            try:
                data += os.read(fd, 65536)
            except BlockingIOError:
                break
        offset = 0
        while offset < len(data):
            _wd, mask, _cookie, length = struct.unpack_from("iIII", data, offset)
            name = data[offset + 16 : offset + 16 + length].rstrip(b"\0").decode()
            if not mask & IN_ISDIR:
                names.append(name)
            offset += 16 + length
    finally:
        os.close(fd)


@contextmanager
def fake_grid_cdn() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server to point PROJ at as its CDN: its URL, and the paths it was asked for."""
    requested: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            self.send_error(404)

        do_HEAD = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requested
    finally:
        server.shutdown()
        server.server_close()


CHILD = """
import json, sys
sys.path[:0] = [sys.argv[1] + "/layers/shared", sys.argv[1]]
from pixelmill.errors import InvalidRequest
from pixelmill.catalog import registry
from rasterio.crs import CRS
from rasterio.warp import transform
texts, check = json.loads(sys.stdin.read()), sys.argv[2]
accepted = []
for text in texts:
    if check == "ours":
        for function, field in (("change_projection", "target_srs"), ("to_cog", "target_srs"), ("clip", "crs")):
            args = {field: text, "bbox": [0, 0, 1, 1]} if function == "clip" else {field: text}
            try:
                registry.parse(function, args)  # the API: the allowlist, no PROJ
                registry.load(function, args)  # the worker: PROJ, then what it resolved to
                accepted.append(text)
            except InvalidRequest:
                pass
    else:  # the control: straight to GDAL and PROJ
        try:
            CRS.from_user_input(text)
        except Exception:
            pass
# An accepted CRS, between two datums PROJ relates by a grid it does not have: it works offline
try:
    transform(CRS.from_user_input("EPSG:4326"), CRS.from_user_input("EPSG:27700"), [-1.0], [52.0])
except Exception:
    if check == "ours":
        raise
print(json.dumps(accepted))
"""


def _template_proj_environment() -> dict[str, str]:
    variables = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    return {name: str(value) for name, value in variables.items() if name.startswith("PROJ_")}


def _run(texts: list[str], directory: Path, check: str, environment: dict[str, str], cdn: str) -> list[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(directory),
        "PROJ_USER_WRITABLE_DIRECTORY": str(directory),
        "PROJ_NETWORK_ENDPOINT": cdn,
        **environment,
    }
    result = subprocess.run(
        [sys.executable, "-I", "-c", CHILD, str(ROOT), check],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        cwd=directory,  # relative names resolve here
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    accepted: list[str] = json.loads(result.stdout)
    return accepted


@pytest.fixture
def canaries(tmp_path: Path) -> Path:
    for name in (GRID, INIT, OSTN15):
        (tmp_path / name).write_text("<+proj=longlat +ellps=WGS84>\n")
    return tmp_path


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
def test_the_template_runs_proj_without_network_or_user_writable_directory() -> None:
    assert _template_proj_environment() == {"PROJ_NETWORK": "OFF", "PROJ_SKIP_READ_USER_WRITABLE_DIRECTORY": "YES"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
def test_no_crs_argument_makes_proj_open_a_file_or_reach_the_network(canaries: Path) -> None:
    texts = corpus(canaries)
    with fake_grid_cdn() as (cdn, requested):
        # When every text is given as a CRS argument, with the functions' PROJ environment
        with opened_files(canaries) as opened:
            accepted = _run(texts, canaries, "ours", _template_proj_environment(), cdn)

        # Then each is refused, no file they name was opened and PROJ fetched nothing
        assert accepted == []
        assert opened == []
        assert requested == []

        # Control: handed straight to GDAL, with PROJ's network on and its user-writable
        # directory read, the same texts open the files, and the grid is asked of the CDN
        with opened_files(canaries) as opened:
            _run(texts, canaries, "control", {"PROJ_NETWORK": "ON"}, cdn)
        assert {GRID, INIT} <= set(opened)
        assert any(OSTN15 in path for path in requested)
