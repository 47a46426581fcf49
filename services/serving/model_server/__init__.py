"""The recommender's model server: Open Inference Protocol V2 over ONNX Runtime, cached in Redis."""
