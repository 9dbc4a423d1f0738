"""The `imgsearch` command line: a transport over the core, like the HTTP API."""
