image  = "registry.example.com/web:2"
canary = true
