"""What the Seldon Core 1.17.1 operator, its executor and the platform's model server agree on.

Read from SeldonIO/seldon-core at tag v1.17.1 (commit 822053e7):
- operator/controllers/seldondeployment_engine.go getPrometheusPath: one path, the operator's
  executor.prometheus.path, serves the executor's metrics AND is handed to every model
  container as PREDICTIVE_UNIT_METRICS_ENDPOINT (seldondeployment_controller.go). The model
  server serves /metrics, so the operator is set to /metrics and both sides agree.
- executor/predictor/predictor_process.go Status/Metadata: `GET /v2/models/<m>/ready` and
  `GET /v2/models/<m>` are answered only when a graph node is named <m>; the executor then
  calls the model container with that name. So the graph node (and its container) carries the
  model's name, the name the server serves (MODEL_NAME).
"""
METRICS_PATH = "/metrics"
