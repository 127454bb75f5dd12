"""The one logger, tracer and metrics of the service (AWS Lambda Powertools).

Service name, namespace and log level come from the POWERTOOLS_* variables set
in template.yaml; outside Lambda the tracer switches itself off.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="pixelmill")
tracer = Tracer(service="pixelmill")
metrics = Metrics(namespace="pixelmill", service="pixelmill")
