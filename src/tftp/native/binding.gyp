{
  "targets": [
    {
      "target_name": "udp_transfer",
      "sources": ["udp_transfer.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
