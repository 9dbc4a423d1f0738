"""Development services without Docker: a real Elasticsearch and a real MinIO on loopback.

`scripts/services up|down|status` drives this package. Downloads and builds are cached under one folder that
it owns (`IMGSEARCH_SERVICES_HOME`), and it stops only the processes whose pid files it wrote.
"""
