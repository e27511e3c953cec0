# A service job with the blocks of a typical web service.
job "web" {
  region      = "global"
  namespace   = "default"
  datacenters = ["dc1", "dc2"]
  type        = "service"
  priority    = 70
  all_at_once = false

  meta {
    team = "web"
    tier = 1
  }

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  constraint {
    distinct_hosts = true
  }

  constraint {
    attribute = "${meta.rack}"
    operator  = "distinct_property"
    value     = "2"
  }

  constraint {
    attribute = "${attr.nomad.version}"
    version   = ">= 1.6.0"
  }

  affinity {
    attribute = "${node.datacenter}"
    value     = "dc1"
    weight    = 50
  }

  spread {
    attribute = "${node.datacenter}"
    weight    = 100

    target "dc1" {
      percent = 70
    }

    target "dc2" {
      percent = 30
    }
  }

  update {
    max_parallel      = 2
    health_check      = "checks"
    min_healthy_time  = "10s"
    healthy_deadline  = "5m"
    progress_deadline = "10m"
    auto_revert       = true
    auto_promote      = false
    canary            = 1
    stagger           = "30s"
  }

  group "web" {
    count = 3

    restart {
      attempts         = 2
      interval         = "30m"
      delay            = "15s"
      mode             = "fail"
      render_templates = true
    }

    reschedule {
      delay          = "30s"
      delay_function = "exponential"
      max_delay      = "1h"
      unlimited      = true
    }

    migrate {
      max_parallel     = 1
      health_check     = "task_states"
      min_healthy_time = "10s"
      healthy_deadline = "5m"
    }

    ephemeral_disk {
      sticky  = true
      migrate = true
      size    = 300
    }

    network {
      mode = "bridge"

      port "http" {
        static = 8080
        to     = 80
      }

      port "metrics" {}

      dns {
        servers = ["1.1.1.1"]
      }
    }

    service {
      name     = "web"
      port     = "http"
      tags     = ["urlprefix-/"]
      provider = "nomad"

      check {
        name     = "alive"
        type     = "http"
        path     = "/health"
        interval = "10s"
        timeout  = "2s"

        header {
          Authorization = ["Basic ZWxhc3RpYzpjaGFuZ2VtZQ=="]
        }

        check_restart {
          limit = 3
          grace = "90s"
        }
      }
    }

    shutdown_delay = "5s"

    task "app" {
      driver       = "docker"
      user         = "nobody"
      kill_timeout = "20s"
      kill_signal  = "SIGTERM"
      leader       = true

      config {
        image = "app:1"
        ports = ["http"]
        args  = ["--port", "${NOMAD_PORT_http}"]

        mount {
          type   = "bind"
          source = "local"
          target = "/etc/app"
        }
      }

      env {
        ALLOC_ID = "${NOMAD_ALLOC_ID}"
        MODE     = "production"
      }

      resources {
        cpu        = 500
        memory     = 256
        memory_max = 512
      }

      template {
        data        = <<-EOT
          listen = {{ env "NOMAD_PORT_http" }}
        EOT
        destination = "local/app.conf"
        change_mode = "signal"
        change_signal = "SIGHUP"
        splay       = "5s"
        perms       = "0644"

        wait {
          min = "2s"
          max = "10s"
        }
      }

      artifact {
        source      = "https://example.com/app.tar.gz"
        destination = "local/app"
        mode        = "any"

        options {
          checksum = "sha256:abc123"
        }
      }

      logs {
        max_files     = 5
        max_file_size = 15
      }
    }
  }
}
