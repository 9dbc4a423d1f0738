"""Vector indexes: Elasticsearch (nested kNN) and the embedded default."""
