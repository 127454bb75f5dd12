"""The template and the code agree: handlers, settings, routes.

Handlers are read with ``ast`` (not imported); settings come from the shared package.
"""

from __future__ import annotations

import json

from pydantic_settings import BaseSettings

from pixelmill.models.ingest import DEFAULT_INGEST_RULES
from pixelmill.settings import Settings
from tests.infrastructure.sam_template import (
    REPO_ROOT,
    Template,
    api_routes,
    defines_function,
    environment,
    functions,
    handler_file,
    handler_routes,
    ref_target,
)

PREFIX = str(Settings.model_config.get("env_prefix", ""))

# Settings whose defaults are right everywhere, so the template need not set them.
# A new Settings field must be set by the template or added here: a decision, not an accident.
DEFAULTS_ARE_FINE = {"upload_url_expires_seconds", "download_url_expires_seconds"}

# Settings only some functions read, set for exactly those (a bad value then stops only them).
ONLY_FOR = {
    "ingest_rules": {"IngestFunction"},
    "public_api_url": {"ApiFunction"},
    "signing_secret_id": {"ApiFunction", "RenderFunction"},
    "image_url_base": {"ApiFunction"},
    "image_cache_max_age_seconds": {"RenderFunction"},
    "render_timeout_seconds": {"RenderFunction"},
}

# The template's resources and parameters behind each setting (the bucket goes by its name:
# test_template checks that name).
WIRED_TO = {
    "PIXELMILL_TASKS_TABLE": "TasksTable",
    "PIXELMILL_TASK_QUEUE_URL": "TaskQueue",
    "PIXELMILL_MAX_UPLOAD_BYTES": "MaxUploadBytes",
    "PIXELMILL_MAX_SOURCE_PIXELS": "MaxSourcePixels",
    "PIXELMILL_MAX_OUTPUT_PIXELS": "MaxOutputPixels",
    "PIXELMILL_MAX_ANIMATION_FRAMES": "MaxAnimationFrames",
    "PIXELMILL_ALLOWED_INPUT_FORMATS": "AllowedInputFormats",
    "PIXELMILL_MAX_RASTER_PIXELS": "MaxRasterPixels",
    "PIXELMILL_RASTER_MEMORY_MIB": "RasterMemoryMiB",
    "PIXELMILL_TASK_TIMEOUT_SECONDS": "TaskTimeoutSeconds",
    "PIXELMILL_MAX_RECEIVE_COUNT": "MaxReceiveCount",
    "PIXELMILL_TASK_TTL_DAYS": "TaskTtlDays",
    "PIXELMILL_INGEST_RULES": "IngestRules",
    "PIXELMILL_PUBLIC_API_URL": "PublicApiUrl",
    "PIXELMILL_UPLOAD_RETENTION_DAYS": "UploadRetentionDays",
}


def _env_name(field: str) -> str:
    return f"{PREFIX}{field}".upper()


def test_settings_read_the_pixelmill_prefix() -> None:
    assert PREFIX == "PIXELMILL_"
    assert issubclass(Settings, BaseSettings)


def test_every_handler_exists_and_defines_its_function(template: Template) -> None:
    for logical_id, properties in functions(template).items():
        # Given the Handler and CodeUri of a function
        source, name = handler_file(properties)
        # Then the module is there and defines the handler at top level
        assert source.is_file(), f"{logical_id}: {source.relative_to(REPO_ROOT)} is missing"
        assert defines_function(source, name), f"{logical_id}: {source.relative_to(REPO_ROOT)} defines no {name}"


def test_every_pixelmill_variable_is_a_settings_field(template: Template) -> None:
    fields = {_env_name(name) for name in Settings.model_fields}
    for logical_id, properties in functions(template).items():
        unknown = {name for name in environment(properties) if name.startswith(PREFIX)} - fields
        assert not unknown, f"{logical_id} sets variables Settings does not read: {sorted(unknown)}"


def test_every_setting_is_set_by_the_template_or_fine_by_default(template: Template) -> None:
    for logical_id, properties in functions(template).items():
        unset = {name for name in Settings.model_fields if _env_name(name) not in environment(properties)}
        not_theirs = {name for name, readers in ONLY_FOR.items() if logical_id not in readers}
        assert unset - not_theirs <= DEFAULTS_ARE_FINE, (
            f"{logical_id} leaves {sorted(unset - not_theirs - DEFAULTS_ARE_FINE)} to their defaults"
        )
        assert not_theirs <= unset, f"{logical_id} sets {sorted(not_theirs - unset)}, which only others read"


def test_settings_are_wired_to_the_stack_resources_and_parameters(template: Template) -> None:
    for logical_id, properties in functions(template).items():
        env = environment(properties)
        wired = {
            name: target
            for name, target in WIRED_TO.items()
            if logical_id in ONLY_FOR.get(name.removeprefix(PREFIX).lower(), {logical_id})
        }
        assert {name: ref_target(env.get(name)) for name in wired} == wired, logical_id
        assert env["POWERTOOLS_SERVICE_NAME"] == "pixelmill", logical_id
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "pixelmill", logical_id
        assert ref_target(env["POWERTOOLS_LOG_LEVEL"]) == "LogLevel", logical_id


def test_template_parameter_defaults_are_valid_settings(template: Template) -> None:
    # Given the values a default deployment puts in the environment
    parameters = template["Parameters"]
    values = {
        name.removeprefix(PREFIX).lower(): str(parameters[target]["Default"])
        for name, target in WIRED_TO.items()
        if target in parameters
    }
    assert len(values) == len(WIRED_TO) - 2  # all but the table and queue
    # Then Settings accepts them (types and bounds) and reads the formats as a set
    settings = Settings.model_validate(values)
    assert settings.allowed_input_formats == frozenset(
        {"JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP", "AVIF", "HEIF", "JPEG2000"}
    )
    assert settings.max_receive_count == 3
    # And the upload rules a default deployment gets are the code's defaults, as one JSON line
    assert settings.ingest_rules == DEFAULT_INGEST_RULES
    assert json.loads(values["ingest_rules"]) == [rule.model_dump(exclude_none=True) for rule in DEFAULT_INGEST_RULES]


def test_api_routes_are_exactly_the_routes_the_handler_serves(template: Template) -> None:
    # Given the Api events of ApiFunction and the powertools routes in functions/api
    api = functions(template)["ApiFunction"]
    declared = api_routes(api)
    source_dir = REPO_ROOT / str(api["CodeUri"])
    served = handler_routes(source_dir)
    # Then API Gateway forwards every route the handler serves, and nothing else
    assert declared, "ApiFunction has no Api events"
    assert declared - served == set(), f"in template.yaml, not served by {source_dir.relative_to(REPO_ROOT)}"
    assert served - declared == set(), "served by the handler, not routed by API Gateway (template.yaml)"


def test_only_the_api_function_has_http_routes(template: Template) -> None:
    routed = {logical_id for logical_id, properties in functions(template).items() if api_routes(properties)}
    assert routed == {"ApiFunction"}
