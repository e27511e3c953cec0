# HCL2 features: variables (types, defaults, validation), locals, functions, dynamic
# blocks, heredocs, conditionals and for expressions.
variable "image" {
  type        = string
  description = "The image to run"
}

variable "count" {
  type    = number
  default = 2

  validation {
    condition     = var.count > 0 && var.count < 10
    error_message = "count must be between 1 and 9."
  }
}

variable "ports" {
  type = list(object({
    name = string
    port = number
  }))
  default = [
    { name = "http", port = 8080 },
    { name = "admin", port = 9090 },
  ]
}

variable "labels" {
  type    = map(string)
  default = { team = "web" }
}

variable "canary" {
  type    = bool
  default = false
}

locals {
  name     = "${local.prefix}-${lower(var.image_name_part)}"
  prefix   = "svc"
  tags     = concat(["v1"], [for p in var.ports : "port-${p.name}"])
  env_vars = merge(var.labels, { IMAGE = var.image })
}

variable "image_name_part" {
  default = "WEB"
}

job "hcl2" {
  datacenters = ["dc1"]
  meta        = var.labels

  group "web" {
    count = var.count

    update {
      canary = var.canary ? 1 : 0
    }

    network {
      dynamic "port" {
        for_each = var.ports
        labels   = [port.value.name]

        content {
          static = port.value.port
        }
      }
    }

    service {
      name = local.name
      tags = local.tags
      port = var.ports[0].name
    }

    task "app" {
      driver = "docker"

      config {
        image   = var.image
        command = "/bin/sh"
        args    = ["-c", "exec app --id ${NOMAD_ALLOC_ID} --host ${attr.unique.hostname}"]
        labels  = { for k, v in var.labels : upper(k) => v }
      }

      env = local.env_vars

      template {
        destination = "local/run.sh"
        data        = <<EOF
#!/bin/sh
echo "${upper(local.prefix)} on ${node.unique.name} in ${NOMAD_DC}"
echo "$${NOT_HCL}"
EOF
      }

      resources {
        cpu    = max(100, 250)
        memory = length(var.ports) * 128
      }
    }
  }
}
