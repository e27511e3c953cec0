# Batch, periodic and parameterized jobs and the blocks they use.
job "reports" {
  type      = "batch"
  node_pool = "default"

  periodic {
    crons            = ["0 3 * * *"]
    prohibit_overlap = true
    time_zone        = "Europe/Paris"
  }

  parameterized {
    payload       = "optional"
    meta_required = ["customer"]
    meta_optional = ["format"]
  }

  ui {
    description = "Nightly *reports*"

    link {
      label = "Runbook"
      url   = "https://example.com/runbook"
    }
  }

  multiregion {
    strategy {
      max_parallel = 1
      on_failure   = "fail_all"
    }

    region "west" {
      count       = 2
      datacenters = ["west-1"]
    }

    region "east" {
      count       = 1
      datacenters = ["east-1"]
      meta {
        tier = "dr"
      }
    }
  }

  group "run" {
    count = 1

    volume "data" {
      type            = "csi"
      source          = "reports-data"
      read_only       = false
      access_mode     = "single-node-writer"
      attachment_mode = "file-system"
      per_alloc       = true

      mount_options {
        fs_type     = "ext4"
        mount_flags = ["noatime"]
      }
    }

    volume "scratch" {
      type   = "host"
      source = "scratch"
    }

    scaling {
      min     = 1
      max     = 10
      enabled = true

      policy {
        cooldown = "1m"

        check "queue" {
          source = "prometheus"
          query  = "sum(queue_depth)"

          strategy "target-value" {
            target = 10
          }
        }
      }
    }

    consul {
      namespace = "reports"
    }

    disconnect {
      lost_after = "1h"
      replace    = false
      reconcile  = "keep_original"
    }

    task "prepare" {
      driver = "exec"

      lifecycle {
        hook    = "prestart"
        sidecar = false
      }

      config {
        command = "/bin/prepare"
      }
    }

    task "report" {
      driver = "exec"

      config {
        command = "/bin/report"
      }

      dispatch_payload {
        file = "input.json"
      }

      volume_mount {
        volume      = "data"
        destination = "/data"
        read_only   = false
      }

      vault {
        policies    = ["reports"]
        change_mode = "restart"
        env         = true
      }

      identity "vault_default" {
        aud = ["vault.io"]
        ttl = "1h"
      }

      scaling "cpu" {
        enabled = true
        max     = 2000

        policy {
          evaluation_interval = "5m"
        }
      }

      resources {
        cpu    = 1000
        memory = 512

        device "nvidia/gpu" {
          count = 1

          constraint {
            attribute = "${device.attr.memory}"
            operator  = ">="
            value     = "2 GiB"
          }
        }
      }

      action "flush" {
        command = "/bin/flush"
        args    = ["--all"]
      }
    }
  }

  group "plugin" {
    task "csi" {
      driver = "docker"

      config {
        image      = "csi-driver:1"
        privileged = true
      }

      csi_plugin {
        id        = "reports-data"
        type      = "monolith"
        mount_dir = "/csi"
      }
    }
  }
}
