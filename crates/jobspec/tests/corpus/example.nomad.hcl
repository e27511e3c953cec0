# Modelled on the job `nomad init` writes, whose JSON Nomad's JSON-jobs page shows.
job "example" {
  datacenters = ["dc1"]
  node_pool   = "prod"
  type        = "service"

  group "cache" {
    count = 1

    network {
      port "db" {
        to = 6379
      }
    }

    task "redis" {
      driver = "docker"

      config {
        image          = "redis:7"
        ports          = ["db"]
        auth_soft_fail = true
      }

      identity {
        env  = true
        file = true
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
