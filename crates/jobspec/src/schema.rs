//! The jobspec's blocks and arguments, and the API JSON field each maps to.
//!
//! One [`Spec`] per block type: its arguments (HCL name, JSON name, how the value is
//! converted), its nested blocks, where its label goes, and an optional fix-up for the
//! few blocks whose JSON is not a plain rename (constraint shortcuts, ports split into
//! reserved and dynamic, periodic's spec type, task scaling types).

use serde_json::{Map, Value};

/// How an argument's value becomes JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A string (numbers and bools are converted, as HCL does).
    Str,
    /// An integer.
    Int,
    /// A number, integral or not.
    Float,
    /// A bool.
    Bool,
    /// A Go duration string (`"30s"`), as nanoseconds.
    Dur,
    /// A list of strings.
    StrList,
    /// A map of strings.
    StrMap,
    /// A map of lists of strings (HTTP headers).
    ListMap,
    /// Any value, as it evaluates.
    Any,
}

/// How a block's body is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// Arguments and blocks from the spec's lists; anything else is an error.
    Schema,
    /// Free-form (a driver's `config`, a scaling `policy`): arguments as they evaluate,
    /// nested blocks as lists of objects under their name.
    Free,
    /// Arguments only, each a string (`env`, `meta`).
    StrMap,
    /// Arguments only, each a list of strings (a check's `header`).
    ListMap,
    /// Not validated: argument and block names become PascalCase (`connect`).
    Generic,
}

/// Where a block goes in its parent's JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// At most one, an object.
    One,
    /// Any number, a list.
    List,
    /// Any number, an object keyed by label (`volume "data"`).
    ByLabel,
    /// A labelled block goes to the list `labeled`, an unlabelled one is the object
    /// under the child's JSON name (`identity`, `identity "vault"`).
    LabelSplit {
        /// JSON field of the list of labelled blocks.
        labeled: &'static str,
    },
}

/// A nested block.
#[derive(Debug)]
pub struct Child {
    /// Its type in the jobspec.
    pub hcl: &'static str,
    /// Its field in the parent's JSON.
    pub json: &'static str,
    /// Its own spec.
    pub spec: &'static Spec,
    /// One, a list or a map.
    pub shape: Shape,
}

/// A block type.
#[derive(Debug)]
pub struct Spec {
    /// Its name in messages.
    pub name: &'static str,
    /// The JSON field its one label goes to (`None`: the block takes no label).
    pub label: Option<&'static str>,
    /// How its body is read.
    pub body: Body,
    /// Arguments: HCL name, JSON name, conversion.
    pub attrs: &'static [(&'static str, &'static str, Kind)],
    /// Nested blocks.
    pub blocks: &'static [Child],
    /// A fix-up of the decoded JSON.
    pub post: Option<fn(&mut Map<String, Value>)>,
}

const fn spec(
    name: &'static str,
    attrs: &'static [(&'static str, &'static str, Kind)],
    blocks: &'static [Child],
) -> Spec {
    Spec {
        name,
        label: None,
        body: Body::Schema,
        attrs,
        blocks,
        post: None,
    }
}

const fn labeled(
    name: &'static str,
    label: &'static str,
    attrs: &'static [(&'static str, &'static str, Kind)],
    blocks: &'static [Child],
) -> Spec {
    Spec {
        name,
        label: Some(label),
        body: Body::Schema,
        attrs,
        blocks,
        post: None,
    }
}

const fn body(name: &'static str, body: Body) -> Spec {
    Spec {
        name,
        label: None,
        body,
        attrs: &[],
        blocks: &[],
        post: None,
    }
}

const fn one(hcl: &'static str, json: &'static str, spec: &'static Spec) -> Child {
    Child {
        hcl,
        json,
        spec,
        shape: Shape::One,
    }
}

const fn list(hcl: &'static str, json: &'static str, spec: &'static Spec) -> Child {
    Child {
        hcl,
        json,
        spec,
        shape: Shape::List,
    }
}

use Kind::*;

pub static META: Spec = body("meta", Body::StrMap);
pub static ENV: Spec = body("env", Body::StrMap);
pub static CONFIG: Spec = body("config", Body::Free);
pub static HEADER: Spec = body("header", Body::ListMap);
pub static OPTIONS: Spec = body("options", Body::StrMap);
pub static HEADERS: Spec = body("headers", Body::StrMap);
pub static ARGS: Spec = body("args", Body::StrMap);
pub static CONNECT: Spec = body("connect", Body::Generic);
pub static POLICY: Spec = body("policy", Body::Free);

pub static CONSTRAINT: Spec = Spec {
    post: Some(constraint_shortcuts),
    ..spec(
        "constraint",
        &[
            ("attribute", "LTarget", Str),
            ("operator", "Operand", Str),
            ("value", "RTarget", Str),
            ("distinct_hosts", "_distinct_hosts", Bool),
            ("distinct_property", "_distinct_property", Str),
            ("regexp", "_regexp", Str),
            ("version", "_version", Str),
            ("semver", "_semver", Str),
            ("set_contains", "_set_contains", Str),
            ("set_contains_any", "_set_contains_any", Str),
            ("set_contains_all", "_set_contains_all", Str),
        ],
        &[],
    )
};

pub static AFFINITY: Spec = Spec {
    post: Some(affinity_operand),
    ..spec(
        "affinity",
        &[
            ("attribute", "LTarget", Str),
            ("operator", "Operand", Str),
            ("value", "RTarget", Str),
            ("weight", "Weight", Int),
        ],
        &[],
    )
};

static SPREAD_TARGET: Spec = labeled("target", "Value", &[("percent", "Percent", Int)], &[]);
pub static SPREAD: Spec = spec(
    "spread",
    &[("attribute", "Attribute", Str), ("weight", "Weight", Int)],
    &[list("target", "SpreadTarget", &SPREAD_TARGET)],
);

pub static UPDATE: Spec = spec(
    "update",
    &[
        ("max_parallel", "MaxParallel", Int),
        ("health_check", "HealthCheck", Str),
        ("min_healthy_time", "MinHealthyTime", Dur),
        ("healthy_deadline", "HealthyDeadline", Dur),
        ("progress_deadline", "ProgressDeadline", Dur),
        ("auto_revert", "AutoRevert", Bool),
        ("auto_promote", "AutoPromote", Bool),
        ("canary", "Canary", Int),
        ("stagger", "Stagger", Dur),
    ],
    &[],
);

pub static MIGRATE: Spec = spec(
    "migrate",
    &[
        ("max_parallel", "MaxParallel", Int),
        ("health_check", "HealthCheck", Str),
        ("min_healthy_time", "MinHealthyTime", Dur),
        ("healthy_deadline", "HealthyDeadline", Dur),
    ],
    &[],
);

pub static RESCHEDULE: Spec = spec(
    "reschedule",
    &[
        ("attempts", "Attempts", Int),
        ("interval", "Interval", Dur),
        ("delay", "Delay", Dur),
        ("delay_function", "DelayFunction", Str),
        ("max_delay", "MaxDelay", Dur),
        ("unlimited", "Unlimited", Bool),
    ],
    &[],
);

pub static RESTART: Spec = spec(
    "restart",
    &[
        ("attempts", "Attempts", Int),
        ("delay", "Delay", Dur),
        ("interval", "Interval", Dur),
        ("mode", "Mode", Str),
        ("render_templates", "RenderTemplates", Bool),
    ],
    &[],
);

static PORT: Spec = labeled(
    "port",
    "Label",
    &[
        ("static", "Value", Int),
        ("to", "To", Int),
        ("host_network", "HostNetwork", Str),
        ("ignore_collision", "IgnoreCollision", Bool),
    ],
    &[],
);
static DNS: Spec = spec(
    "dns",
    &[
        ("servers", "Servers", StrList),
        ("searches", "Searches", StrList),
        ("options", "Options", StrList),
    ],
    &[],
);
static CNI: Spec = spec(
    "cni",
    &[("args", "Args", StrMap)],
    &[one("args", "Args", &ARGS)],
);
pub static NETWORK: Spec = Spec {
    post: Some(split_ports),
    ..spec(
        "network",
        &[
            ("mode", "Mode", Str),
            ("mbits", "MBits", Int),
            ("hostname", "Hostname", Str),
            ("device", "Device", Str),
            ("cidr", "CIDR", Str),
            ("ip", "IP", Str),
        ],
        &[
            list("port", "_ports", &PORT),
            one("dns", "DNS", &DNS),
            one("cni", "CNI", &CNI),
        ],
    )
};

static CHECK_RESTART: Spec = spec(
    "check_restart",
    &[
        ("limit", "Limit", Int),
        ("grace", "Grace", Dur),
        ("ignore_warnings", "IgnoreWarnings", Bool),
    ],
    &[],
);
static CHECK: Spec = spec(
    "check",
    &[
        ("name", "Name", Str),
        ("type", "Type", Str),
        ("command", "Command", Str),
        ("args", "Args", StrList),
        ("path", "Path", Str),
        ("protocol", "Protocol", Str),
        ("port", "PortLabel", Str),
        ("expose", "Expose", Bool),
        ("address_mode", "AddressMode", Str),
        ("interval", "Interval", Dur),
        ("timeout", "Timeout", Dur),
        ("initial_status", "InitialStatus", Str),
        ("tls_server_name", "TLSServerName", Str),
        ("tls_skip_verify", "TLSSkipVerify", Bool),
        ("method", "Method", Str),
        ("body", "Body", Str),
        ("grpc_service", "GRPCService", Str),
        ("grpc_use_tls", "GRPCUseTLS", Bool),
        ("task", "TaskName", Str),
        ("success_before_passing", "SuccessBeforePassing", Int),
        ("failures_before_critical", "FailuresBeforeCritical", Int),
        ("failures_before_warning", "FailuresBeforeWarning", Int),
        ("on_update", "OnUpdate", Str),
        ("header", "Header", ListMap),
    ],
    &[
        one("header", "Header", &HEADER),
        one("check_restart", "CheckRestart", &CHECK_RESTART),
    ],
);
static WEIGHTS: Spec = spec(
    "weights",
    &[("passing", "Passing", Int), ("warning", "Warning", Int)],
    &[],
);
pub static SERVICE: Spec = spec(
    "service",
    &[
        ("name", "Name", Str),
        ("port", "PortLabel", Str),
        ("tags", "Tags", StrList),
        ("canary_tags", "CanaryTags", StrList),
        ("enable_tag_override", "EnableTagOverride", Bool),
        ("address_mode", "AddressMode", Str),
        ("address", "Address", Str),
        ("task", "TaskName", Str),
        ("on_update", "OnUpdate", Str),
        ("provider", "Provider", Str),
        ("cluster", "Cluster", Str),
        ("meta", "Meta", StrMap),
        ("canary_meta", "CanaryMeta", StrMap),
        ("tagged_addresses", "TaggedAddresses", StrMap),
    ],
    &[
        list("check", "Checks", &CHECK),
        one("check_restart", "CheckRestart", &CHECK_RESTART),
        one("connect", "Connect", &CONNECT),
        one("identity", "Identity", &IDENTITY),
        one("weights", "Weights", &WEIGHTS),
        one("meta", "Meta", &META),
        one("canary_meta", "CanaryMeta", &META),
        one("tagged_addresses", "TaggedAddresses", &META),
    ],
);

static MOUNT_OPTIONS: Spec = spec(
    "mount_options",
    &[
        ("fs_type", "FSType", Str),
        ("mount_flags", "MountFlags", StrList),
    ],
    &[],
);
pub static VOLUME: Spec = labeled(
    "volume",
    "Name",
    &[
        ("type", "Type", Str),
        ("source", "Source", Str),
        ("read_only", "ReadOnly", Bool),
        ("access_mode", "AccessMode", Str),
        ("attachment_mode", "AttachmentMode", Str),
        ("per_alloc", "PerAlloc", Bool),
        ("sticky", "Sticky", Bool),
    ],
    &[one("mount_options", "MountOptions", &MOUNT_OPTIONS)],
);

pub static VOLUME_MOUNT: Spec = spec(
    "volume_mount",
    &[
        ("volume", "Volume", Str),
        ("destination", "Destination", Str),
        ("read_only", "ReadOnly", Bool),
        ("propagation_mode", "PropagationMode", Str),
        ("selinux_label", "SELinuxLabel", Str),
    ],
    &[],
);

pub static EPHEMERAL_DISK: Spec = spec(
    "ephemeral_disk",
    &[
        ("sticky", "Sticky", Bool),
        ("migrate", "Migrate", Bool),
        ("size", "SizeMB", Int),
    ],
    &[],
);

static DEVICE: Spec = labeled(
    "device",
    "Name",
    &[("count", "Count", Int)],
    &[
        list("constraint", "Constraints", &CONSTRAINT),
        list("affinity", "Affinities", &AFFINITY),
    ],
);
static NUMA: Spec = spec(
    "numa",
    &[
        ("affinity", "Affinity", Str),
        ("devices", "Devices", StrList),
    ],
    &[],
);
pub static RESOURCES: Spec = spec(
    "resources",
    &[
        ("cpu", "CPU", Int),
        ("cores", "Cores", Int),
        ("memory", "MemoryMB", Int),
        ("memory_max", "MemoryMaxMB", Int),
        ("disk", "DiskMB", Int),
        ("iops", "IOPS", Int),
        ("secrets", "SecretsMB", Int),
    ],
    &[
        list("device", "Devices", &DEVICE),
        one("numa", "NUMA", &NUMA),
        list("network", "Networks", &NETWORK),
    ],
);

static TEMPLATE_WAIT: Spec = spec("wait", &[("min", "Min", Dur), ("max", "Max", Dur)], &[]);
static CHANGE_SCRIPT: Spec = spec(
    "change_script",
    &[
        ("command", "Command", Str),
        ("args", "Args", StrList),
        ("timeout", "Timeout", Dur),
        ("fail_on_error", "FailOnError", Bool),
    ],
    &[],
);
pub static TEMPLATE: Spec = spec(
    "template",
    &[
        ("source", "SourcePath", Str),
        ("destination", "DestPath", Str),
        ("data", "EmbeddedTmpl", Str),
        ("change_mode", "ChangeMode", Str),
        ("change_signal", "ChangeSignal", Str),
        ("splay", "Splay", Dur),
        ("perms", "Perms", Str),
        ("uid", "Uid", Int),
        ("gid", "Gid", Int),
        ("left_delimiter", "LeftDelim", Str),
        ("right_delimiter", "RightDelim", Str),
        ("env", "Envvars", Bool),
        ("vault_grace", "VaultGrace", Dur),
        ("error_on_missing_key", "ErrMissingKey", Bool),
        ("once", "Once", Bool),
    ],
    &[
        one("wait", "Wait", &TEMPLATE_WAIT),
        one("change_script", "ChangeScript", &CHANGE_SCRIPT),
    ],
);

pub static ARTIFACT: Spec = spec(
    "artifact",
    &[
        ("source", "GetterSource", Str),
        ("destination", "RelativeDest", Str),
        ("mode", "GetterMode", Str),
        ("options", "GetterOptions", StrMap),
        ("headers", "GetterHeaders", StrMap),
        ("chown", "Chown", Bool),
    ],
    &[
        one("options", "GetterOptions", &OPTIONS),
        one("headers", "GetterHeaders", &HEADERS),
    ],
);

pub static LOGS: Spec = spec(
    "logs",
    &[
        ("max_files", "MaxFiles", Int),
        ("max_file_size", "MaxFileSizeMB", Int),
        ("disabled", "Disabled", Bool),
        ("enabled", "Enabled", Bool),
    ],
    &[],
);

pub static VAULT: Spec = spec(
    "vault",
    &[
        ("policies", "Policies", StrList),
        ("namespace", "Namespace", Str),
        ("env", "Env", Bool),
        ("disable_file", "DisableFile", Bool),
        ("change_mode", "ChangeMode", Str),
        ("change_signal", "ChangeSignal", Str),
        ("role", "Role", Str),
        ("cluster", "Cluster", Str),
        ("allow_token_expiration", "AllowTokenExpiration", Bool),
    ],
    &[],
);

pub static CONSUL: Spec = spec(
    "consul",
    &[
        ("namespace", "Namespace", Str),
        ("cluster", "Cluster", Str),
        ("partition", "Partition", Str),
    ],
    &[],
);

pub static IDENTITY: Spec = labeled(
    "identity",
    "Name",
    &[
        ("name", "Name", Str),
        ("aud", "Audience", StrList),
        ("env", "Env", Bool),
        ("file", "File", Bool),
        ("filepath", "Filepath", Str),
        ("change_mode", "ChangeMode", Str),
        ("change_signal", "ChangeSignal", Str),
        ("ttl", "TTL", Dur),
    ],
    &[],
);

pub static LIFECYCLE: Spec = spec(
    "lifecycle",
    &[("hook", "Hook", Str), ("sidecar", "Sidecar", Bool)],
    &[],
);

pub static CSI_PLUGIN: Spec = spec(
    "csi_plugin",
    &[
        ("id", "ID", Str),
        ("type", "Type", Str),
        ("mount_dir", "MountDir", Str),
        ("stage_publish_base_dir", "StagePublishBaseDir", Str),
        ("health_timeout", "HealthTimeout", Dur),
    ],
    &[],
);

pub static DISPATCH_PAYLOAD: Spec = spec("dispatch_payload", &[("file", "File", Str)], &[]);

const SCALING_ATTRS: &[(&str, &str, Kind)] = &[
    ("min", "Min", Int),
    ("max", "Max", Int),
    ("enabled", "Enabled", Bool),
];
pub static GROUP_SCALING: Spec = spec(
    "scaling",
    SCALING_ATTRS,
    &[one("policy", "Policy", &POLICY)],
);
pub static TASK_SCALING: Spec = Spec {
    post: Some(task_scaling_type),
    ..labeled(
        "scaling",
        "Type",
        SCALING_ATTRS,
        &[one("policy", "Policy", &POLICY)],
    )
};

static ACTION: Spec = labeled(
    "action",
    "Name",
    &[("command", "Command", Str), ("args", "Args", StrList)],
    &[],
);

pub static TASK: Spec = labeled(
    "task",
    "Name",
    &[
        ("driver", "Driver", Str),
        ("user", "User", Str),
        ("kill_timeout", "KillTimeout", Dur),
        ("kill_signal", "KillSignal", Str),
        ("leader", "Leader", Bool),
        ("shutdown_delay", "ShutdownDelay", Dur),
        ("kind", "Kind", Str),
        ("meta", "Meta", StrMap),
        ("env", "Env", StrMap),
        ("config", "Config", Any),
    ],
    &[
        one("config", "Config", &CONFIG),
        one("env", "Env", &ENV),
        one("meta", "Meta", &META),
        one("resources", "Resources", &RESOURCES),
        list("template", "Templates", &TEMPLATE),
        list("artifact", "Artifacts", &ARTIFACT),
        one("restart", "RestartPolicy", &RESTART),
        one("logs", "LogConfig", &LOGS),
        one("vault", "Vault", &VAULT),
        one("consul", "Consul", &CONSUL),
        Child {
            hcl: "identity",
            json: "Identity",
            spec: &IDENTITY,
            shape: Shape::LabelSplit {
                labeled: "Identities",
            },
        },
        one("lifecycle", "Lifecycle", &LIFECYCLE),
        list("volume_mount", "VolumeMounts", &VOLUME_MOUNT),
        one("csi_plugin", "CSIPluginConfig", &CSI_PLUGIN),
        one("dispatch_payload", "DispatchPayload", &DISPATCH_PAYLOAD),
        list("scaling", "ScalingPolicies", &TASK_SCALING),
        list("service", "Services", &SERVICE),
        list("constraint", "Constraints", &CONSTRAINT),
        list("affinity", "Affinities", &AFFINITY),
        list("action", "Actions", &ACTION),
    ],
);

static DISCONNECT: Spec = spec(
    "disconnect",
    &[
        ("lost_after", "LostAfter", Dur),
        ("replace", "Replace", Bool),
        ("reconcile", "Reconcile", Str),
        ("stop_on_client_after", "StopOnClientAfter", Dur),
    ],
    &[],
);

pub static GROUP: Spec = labeled(
    "group",
    "Name",
    &[
        ("count", "Count", Int),
        ("shutdown_delay", "ShutdownDelay", Dur),
        (
            "stop_after_client_disconnect",
            "StopAfterClientDisconnect",
            Dur,
        ),
        ("max_client_disconnect", "MaxClientDisconnect", Dur),
        (
            "prevent_reschedule_on_lost",
            "PreventRescheduleOnLost",
            Bool,
        ),
        ("meta", "Meta", StrMap),
    ],
    &[
        list("task", "Tasks", &TASK),
        list("constraint", "Constraints", &CONSTRAINT),
        list("affinity", "Affinities", &AFFINITY),
        list("spread", "Spreads", &SPREAD),
        list("network", "Networks", &NETWORK),
        list("service", "Services", &SERVICE),
        one("update", "Update", &UPDATE),
        one("restart", "RestartPolicy", &RESTART),
        one("reschedule", "ReschedulePolicy", &RESCHEDULE),
        one("migrate", "Migrate", &MIGRATE),
        one("ephemeral_disk", "EphemeralDisk", &EPHEMERAL_DISK),
        Child {
            hcl: "volume",
            json: "Volumes",
            spec: &VOLUME,
            shape: Shape::ByLabel,
        },
        one("meta", "Meta", &META),
        one("scaling", "Scaling", &GROUP_SCALING),
        one("consul", "Consul", &CONSUL),
        one("disconnect", "Disconnect", &DISCONNECT),
    ],
);

pub static PERIODIC: Spec = Spec {
    post: Some(periodic_spec_type),
    ..spec(
        "periodic",
        &[
            ("cron", "Spec", Str),
            ("crons", "Specs", StrList),
            ("prohibit_overlap", "ProhibitOverlap", Bool),
            ("time_zone", "TimeZone", Str),
            ("enabled", "Enabled", Bool),
        ],
        &[],
    )
};

pub static PARAMETERIZED: Spec = spec(
    "parameterized",
    &[
        ("payload", "Payload", Str),
        ("meta_required", "MetaRequired", StrList),
        ("meta_optional", "MetaOptional", StrList),
    ],
    &[],
);

static MULTIREGION_STRATEGY: Spec = spec(
    "strategy",
    &[
        ("max_parallel", "MaxParallel", Int),
        ("on_failure", "OnFailure", Str),
    ],
    &[],
);
static MULTIREGION_REGION: Spec = labeled(
    "region",
    "Name",
    &[
        ("count", "Count", Int),
        ("datacenters", "Datacenters", StrList),
        ("node_pool", "NodePool", Str),
        ("meta", "Meta", StrMap),
    ],
    &[one("meta", "Meta", &META)],
);
pub static MULTIREGION: Spec = spec(
    "multiregion",
    &[],
    &[
        one("strategy", "Strategy", &MULTIREGION_STRATEGY),
        list("region", "Regions", &MULTIREGION_REGION),
    ],
);

static UI_LINK: Spec = spec("link", &[("label", "Label", Str), ("url", "URL", Str)], &[]);
pub static UI: Spec = spec(
    "ui",
    &[("description", "Description", Str)],
    &[list("link", "Links", &UI_LINK)],
);

pub static JOB: Spec = labeled(
    "job",
    "ID",
    &[
        ("all_at_once", "AllAtOnce", Bool),
        ("datacenters", "Datacenters", StrList),
        ("name", "Name", Str),
        ("namespace", "Namespace", Str),
        ("node_pool", "NodePool", Str),
        ("priority", "Priority", Int),
        ("region", "Region", Str),
        ("type", "Type", Str),
        ("meta", "Meta", StrMap),
        ("consul_namespace", "ConsulNamespace", Str),
        ("vault_namespace", "VaultNamespace", Str),
    ],
    &[
        list("group", "TaskGroups", &GROUP),
        list("constraint", "Constraints", &CONSTRAINT),
        list("affinity", "Affinities", &AFFINITY),
        list("spread", "Spreads", &SPREAD),
        one("update", "Update", &UPDATE),
        one("meta", "Meta", &META),
        one("multiregion", "Multiregion", &MULTIREGION),
        one("periodic", "Periodic", &PERIODIC),
        one("parameterized", "ParameterizedJob", &PARAMETERIZED),
        one("reschedule", "Reschedule", &RESCHEDULE),
        one("migrate", "Migrate", &MIGRATE),
        one("ui", "UI", &UI),
    ],
);

/// `distinct_hosts = true`, `version = ">= 1.2"` and the like: Nomad's shorthand for
/// an operator with a value.
fn constraint_shortcuts(m: &mut Map<String, Value>) {
    if let Some(v) = m.remove("_distinct_hosts") {
        m.insert("Operand".into(), "distinct_hosts".into());
        m.insert(
            "RTarget".into(),
            Value::String(v.as_bool().unwrap_or(false).to_string()),
        );
    }
    if let Some(v) = m.remove("_distinct_property") {
        m.insert("Operand".into(), "distinct_property".into());
        m.insert("LTarget".into(), v);
    }
    for op in [
        "regexp",
        "version",
        "semver",
        "set_contains",
        "set_contains_any",
        "set_contains_all",
    ] {
        if let Some(v) = m.remove(&format!("_{op}")) {
            m.insert("Operand".into(), op.into());
            m.insert("RTarget".into(), v);
        }
    }
    m.entry("Operand").or_insert_with(|| "=".into());
    for key in ["LTarget", "RTarget"] {
        m.entry(key).or_insert_with(|| "".into());
    }
}

/// An affinity without an operator means `=`.
fn affinity_operand(m: &mut Map<String, Value>) {
    m.entry("Operand").or_insert_with(|| "=".into());
}

/// Ports with a `static` value are reserved, the others dynamic.
fn split_ports(m: &mut Map<String, Value>) {
    let Some(Value::Array(ports)) = m.remove("_ports") else {
        return;
    };
    let (mut reserved, mut dynamic) = (Vec::new(), Vec::new());
    for mut port in ports {
        if let Value::Object(p) = &mut port {
            let is_static = p.contains_key("Value");
            for (key, zero) in [("Value", Value::from(0)), ("To", Value::from(0))] {
                p.entry(key).or_insert(zero);
            }
            p.entry("HostNetwork").or_insert_with(|| "default".into());
            if is_static {
                reserved.push(port);
            } else {
                dynamic.push(port);
            }
        }
    }
    if !reserved.is_empty() {
        m.insert("ReservedPorts".into(), Value::Array(reserved));
    }
    if !dynamic.is_empty() {
        m.insert("DynamicPorts".into(), Value::Array(dynamic));
    }
}

/// Cron specs are the only kind of periodic spec.
fn periodic_spec_type(m: &mut Map<String, Value>) {
    if m.contains_key("Spec") || m.contains_key("Specs") {
        m.insert("SpecType".into(), "cron".into());
    }
}

/// `scaling "cpu"` and `scaling "mem"` are vertical policies.
fn task_scaling_type(m: &mut Map<String, Value>) {
    if let Some(Value::String(t)) = m.get("Type") {
        let kind = match t.as_str() {
            "cpu" => "vertical_cpu",
            "mem" => "vertical_mem",
            other => other,
        }
        .to_owned();
        m.insert("Type".into(), kind.into());
    }
}
