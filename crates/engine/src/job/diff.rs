//! Comparing job versions: `SpecChanged` (§3.8 R2) and destructive vs in-place updates
//! (§3.1 C16).
//!
//! Both comparisons destructure the model types exhaustively where they enumerate fields,
//! so adding a field to `Job` is a compile error here until someone decides whether it
//! counts.

use crate::model::{Consul, Job, Meta, Resources, RestartPolicy, Task, TaskGroup};
use serde_json::Value;

/// `SpecChanged` (§3.8 R2): do two job versions differ in anything but bookkeeping?
///
/// Nomad copies eight bookkeeping fields from the watcher's job onto a copy of the
/// candidate and deep-compares the two; comparing every other field directly gives the
/// same answer without the copy. Everything outside the eight counts, `VersionTag`,
/// `NomadTokenID`, `Meta` and `Priority` included (§7.1 item 9, kept on purpose).
pub fn spec_changed(watcher_job: &Job, candidate: &Job) -> bool {
    let Job {
        // R2's eight bookkeeping fields: never a difference.
        status: _,
        status_description: _,
        stable: _,
        version: _,
        create_index: _,
        modify_index: _,
        job_modify_index: _,
        submit_time: _,
        // Everything else is spec.
        affinities,
        all_at_once,
        constraints,
        consul_namespace,
        datacenters,
        dispatch_idempotency_token,
        dispatched,
        id,
        meta,
        multiregion,
        name,
        namespace,
        node_pool,
        nomad_token_id,
        parameterized_job,
        parent_id,
        payload,
        periodic,
        priority,
        region,
        spreads,
        stop,
        task_groups,
        job_type,
        ui,
        update,
        vault_namespace,
        version_tag,
    } = watcher_job;
    let c = candidate;
    *affinities != c.affinities
        || *all_at_once != c.all_at_once
        || *constraints != c.constraints
        || *consul_namespace != c.consul_namespace
        || *datacenters != c.datacenters
        || *dispatch_idempotency_token != c.dispatch_idempotency_token
        || *dispatched != c.dispatched
        || *id != c.id
        || *meta != c.meta
        || *multiregion != c.multiregion
        || *name != c.name
        || *namespace != c.namespace
        || *node_pool != c.node_pool
        || *nomad_token_id != c.nomad_token_id
        || *parameterized_job != c.parameterized_job
        || *parent_id != c.parent_id
        || *payload != c.payload
        || *periodic != c.periodic
        || *priority != c.priority
        || *region != c.region
        || *spreads != c.spreads
        || *stop != c.stop
        || *task_groups != c.task_groups
        || *job_type != c.job_type
        || *ui != c.ui
        || *update != c.update
        || *vault_namespace != c.vault_namespace
        || *version_tag != c.version_tag
}

/// §3.1 C16: must an allocation of `old` (group `group`) be replaced to run `new`, or can
/// it be updated in place?
pub fn needs_destructive_update(old: &Job, new: &Job, group: &str) -> bool {
    destructive_reason(old, new, group).is_some()
}

/// The first C16 difference found between the two versions of `group`, named after the
/// field, or `None` when the update can happen in place.
fn destructive_reason(old: &Job, new: &Job, group: &str) -> Option<&'static str> {
    let (Some(old_group), Some(new_group)) = (old.group(group), new.group(group)) else {
        return Some("group missing");
    };
    if let Some(reason) = group_difference(old_group, new_group) {
        return Some(reason);
    }
    let Some(pairs) = pair_tasks(old_group, new_group) else {
        return Some("tasks added, removed or renamed");
    };
    pairs.into_iter().find_map(|(old_task, new_task)| {
        if combined_meta(old, old_group, old_task) != combined_meta(new, new_group, new_task) {
            return Some("task Meta (combined)");
        }
        task_difference(old_task, new_task)
    })
}

/// Group-level fields whose change needs a new allocation.
fn group_difference(old: &TaskGroup, new: &TaskGroup) -> Option<&'static str> {
    if !opaque_eq(old.ephemeral_disk.as_ref(), new.ephemeral_disk.as_ref()) {
        return Some("group EphemeralDisk");
    }
    if !opaque_eq(old.networks.as_ref(), new.networks.as_ref()) {
        return Some("group Networks");
    }
    if !opaque_eq(old.volumes.as_ref(), new.volumes.as_ref()) {
        return Some("group Volumes");
    }
    if consul_target(old.consul.as_ref()) != consul_target(new.consul.as_ref()) {
        return Some("group Consul");
    }
    if connect_services(old.services.as_deref()) != connect_services(new.services.as_deref()) {
        return Some("group Connect services");
    }
    if render_templates(old.restart_policy.as_ref())
        != render_templates(new.restart_policy.as_ref())
    {
        return Some("group RestartPolicy.RenderTemplates");
    }
    None
}

/// Each old task with its counterpart in the new group, matched by name (order does not
/// matter), or `None` when a task was added, removed or renamed. Duplicate names (which
/// validation rejects) pair up by occurrence, so that a job never differs from itself.
fn pair_tasks<'a>(old: &'a TaskGroup, new: &'a TaskGroup) -> Option<Vec<(&'a Task, &'a Task)>> {
    if old.tasks.len() != new.tasks.len() {
        return None;
    }
    old.tasks
        .iter()
        .enumerate()
        .map(|(idx, old_task)| {
            let occurrence = old.tasks[..idx]
                .iter()
                .filter(|t| t.name == old_task.name)
                .count();
            let new_task = new
                .tasks
                .iter()
                .filter(|t| t.name == old_task.name)
                .nth(occurrence)?;
            Some((old_task, new_task))
        })
        .collect()
}

/// Task-level fields whose change needs a new allocation (the combined meta is checked by
/// the caller, which has the job and group at hand).
fn task_difference(old: &Task, new: &Task) -> Option<&'static str> {
    if old.driver != new.driver {
        return Some("task Driver");
    }
    if old.user != new.user {
        return Some("task User");
    }
    if !opaque_eq(old.config.as_ref(), new.config.as_ref()) {
        return Some("task Config");
    }
    if old.env.clone().unwrap_or_default() != new.env.clone().unwrap_or_default() {
        return Some("task Env");
    }
    if !opaque_eq(old.artifacts.as_ref(), new.artifacts.as_ref()) {
        return Some("task Artifacts");
    }
    if !opaque_eq(old.templates.as_ref(), new.templates.as_ref()) {
        return Some("task Templates");
    }
    if !opaque_eq(old.vault.as_ref(), new.vault.as_ref()) {
        return Some("task Vault");
    }
    if consul_target(old.consul.as_ref()) != consul_target(new.consul.as_ref()) {
        return Some("task Consul");
    }
    if !opaque_eq(old.volume_mounts.as_ref(), new.volume_mounts.as_ref()) {
        return Some("task VolumeMounts");
    }
    if !opaque_eq(old.identity.as_ref(), new.identity.as_ref()) {
        return Some("task Identity");
    }
    if !opaque_eq(old.identities.as_ref(), new.identities.as_ref()) {
        return Some("task Identities");
    }
    let logs_disabled = |t: &Task| {
        t.log_config
            .as_ref()
            .and_then(|l| l.disabled)
            .unwrap_or(false)
    };
    if logs_disabled(old) != logs_disabled(new) {
        return Some("task LogConfig.Disabled");
    }
    if render_templates(old.restart_policy.as_ref())
        != render_templates(new.restart_policy.as_ref())
    {
        return Some("task RestartPolicy.RenderTemplates");
    }
    resources_difference(old.resources.as_ref(), new.resources.as_ref())
}

/// The resources C16 names, plus the task's networks (which live in `Resources`).
fn resources_difference(old: Option<&Resources>, new: Option<&Resources>) -> Option<&'static str> {
    let none = Resources::default();
    // Exhaustive, so that a new resource field must be classified here.
    let Resources {
        cpu,
        cores,
        devices,
        disk_mb: _, // superseded by the group's EphemeralDisk
        iops: _,    // deprecated, ignored by Nomad
        memory_mb,
        memory_max_mb,
        numa,
        networks,
        secrets_mb,
    } = old.unwrap_or(&none);
    let new = new.unwrap_or(&none);
    let int = |v: &Option<i64>| v.unwrap_or(0);
    if !opaque_eq(networks.as_ref(), new.networks.as_ref()) {
        return Some("task Networks");
    }
    if int(cpu) != int(&new.cpu) {
        return Some("task Resources.CPU");
    }
    if int(cores) != int(&new.cores) {
        return Some("task Resources.Cores");
    }
    if int(memory_mb) != int(&new.memory_mb) {
        return Some("task Resources.MemoryMB");
    }
    if int(memory_max_mb) != int(&new.memory_max_mb) {
        return Some("task Resources.MemoryMaxMB");
    }
    if !opaque_eq(devices.as_ref(), new.devices.as_ref()) {
        return Some("task Resources.Devices");
    }
    if !opaque_eq(numa.as_ref(), new.numa.as_ref()) {
        return Some("task Resources.NUMA");
    }
    if int(secrets_mb) != int(&new.secrets_mb) {
        return Some("task Resources.SecretsMB");
    }
    None
}

/// The metadata a task sees: job `Meta`, overlaid by group `Meta`, overlaid by task `Meta`.
/// A job-level meta change therefore reaches every task and is destructive (C16).
fn combined_meta(job: &Job, group: &TaskGroup, task: &Task) -> Meta {
    let mut meta = job.meta.clone().unwrap_or_default();
    for layer in [&group.meta, &task.meta].into_iter().flatten() {
        meta.extend(layer.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    meta
}

/// The parts of a Consul block that pick where the allocation registers.
fn consul_target(consul: Option<&Consul>) -> (&str, &str) {
    consul.map_or(("", ""), |c| (c.namespace.as_str(), c.cluster.as_str()))
}

fn render_templates(policy: Option<&RestartPolicy>) -> bool {
    policy.and_then(|p| p.render_templates).unwrap_or(false)
}

/// The Connect-enabled services of a group, as `(Name, Connect, PortLabel)` sorted by name:
/// a service whose `Connect` key (any letter case, as the JSON decoder accepts it) is
/// present and non-null. The Connect block and the port label decide the sidecar and its
/// plumbing, so a change to either replaces the allocation; the rest of the service (tags,
/// checks, …) is updated in place, like a plain service.
fn connect_services(services: Option<&[Value]>) -> Vec<(String, Value, Value)> {
    let mut connect: Vec<(String, Value, Value)> = services
        .unwrap_or_default()
        .iter()
        .filter_map(|service| {
            let block = get_ci(service, "Connect").filter(|v| !v.is_null())?;
            let name = get_ci(service, "Name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let port = get_ci(service, "PortLabel").cloned().unwrap_or(Value::Null);
            Some((name.to_string(), block.clone(), port))
        })
        .collect();
    connect.sort_by(|a, b| a.0.cmp(&b.0));
    connect
}

/// An object's value under `key`: the exact key if present, else the first key equal to it
/// ignoring ASCII case.
fn get_ci<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let object = value.as_object()?;
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Deep equality of opaque JSON, where absent, `null`, `[]` and `{}` all mean "nothing":
/// a job that spells "no artifacts" differently is not a different job.
fn opaque_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    fn something(v: Option<&Value>) -> Option<&Value> {
        v.filter(|v| match v {
            Value::Null => false,
            Value::Array(items) => !items.is_empty(),
            Value::Object(fields) => !fields.is_empty(),
            _ => true,
        })
    }
    something(a) == something(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::canonicalize;
    use crate::job::test_support::{group, job, task};
    use crate::model::{LogConfig, UpdateStrategy, SECOND_NS};
    use serde_json::json;

    /// A canonical service job: group "web" (count 3) with tasks "server" and "logger",
    /// plus a group "db".
    fn base() -> Job {
        let mut web = group("web", vec![task("server"), task("logger")]);
        web.count = Some(3);
        web.services = Some(vec![
            json!({"Name": "api", "PortLabel": "http", "Connect": {"SidecarService": {}}}),
            json!({"Name": "metrics", "PortLabel": "m", "Checks": [{"Type": "http"}]}),
        ]);
        web.meta = Some(Meta::from([("tier".to_string(), "front".to_string())]));
        web.tasks[0].config = Some(json!({"image": "nginx:1", "ports": ["http"]}));
        web.tasks[0].resources = Some(Resources {
            cpu: Some(100),
            memory_mb: Some(256),
            ..Resources::default()
        });
        let mut j = job("api", "service", vec![web, group("db", vec![task("pg")])]);
        j.meta = Some(Meta::from([("owner".to_string(), "team-a".to_string())]));
        canonicalize(&mut j);
        j
    }

    fn web(j: &mut Job) -> &mut TaskGroup {
        &mut j.task_groups[0]
    }

    fn server(j: &mut Job) -> &mut Task {
        &mut j.task_groups[0].tasks[0]
    }

    fn reason_after(change: fn(&mut Job)) -> Option<&'static str> {
        let old = base();
        let mut new = old.clone();
        change(&mut new);
        destructive_reason(&old, &new, "web")
    }

    type Change = (&'static str, fn(&mut Job));

    // ---- C16 -------------------------------------------------------------------------

    #[test]
    fn c16_identical_versions_are_in_place() {
        assert_eq!(destructive_reason(&base(), &base(), "web"), None);
        assert!(!needs_destructive_update(&base(), &base(), "web"));
    }

    #[test]
    fn c16_missing_group_is_destructive() {
        let old = base();
        let mut new = old.clone();
        new.task_groups.remove(0);
        assert!(needs_destructive_update(&old, &new, "web"));
        assert!(needs_destructive_update(&new, &old, "web"));
        assert!(needs_destructive_update(&old, &old, "nope"));
    }

    #[test]
    fn c16_job_meta_change_is_destructive() {
        let old = base();
        let mut new = old.clone();
        new.meta = Some(Meta::from([("owner".to_string(), "team-b".to_string())]));
        assert!(needs_destructive_update(&old, &new, "web"));
        assert!(needs_destructive_update(&old, &new, "db"));
    }

    #[test]
    fn c16_meta_overridden_lower_down_is_not_a_change() {
        // The task already overrides the key, so moving the job-level value does not
        // change what the task sees.
        let mut old = base();
        server(&mut old).meta = Some(Meta::from([("owner".to_string(), "me".to_string())]));
        web(&mut old).tasks[1].meta = Some(Meta::from([("owner".to_string(), "me".to_string())]));
        let mut new = old.clone();
        new.meta = Some(Meta::from([("owner".to_string(), "team-b".to_string())]));
        assert!(!needs_destructive_update(&old, &new, "web"));
        assert!(needs_destructive_update(&old, &new, "db"));
    }

    #[test]
    fn c16_moving_meta_between_levels_is_in_place() {
        let old = base();
        let mut new = old.clone();
        new.meta = None;
        web(&mut new).meta = Some(Meta::from([
            ("owner".to_string(), "team-a".to_string()),
            ("tier".to_string(), "front".to_string()),
        ]));
        assert_eq!(destructive_reason(&old, &new, "web"), None);
    }

    #[test]
    fn c16_count_change_is_in_place() {
        assert_eq!(reason_after(|j| web(j).count = Some(10)), None);
    }

    #[test]
    fn c16_destructive_changes() {
        let cases: Vec<(Change, &str)> = vec![
            (
                ("task added", |j| web(j).tasks.push(task("extra"))),
                "tasks added, removed or renamed",
            ),
            (
                ("task removed", |j| {
                    web(j).tasks.pop();
                }),
                "tasks added, removed or renamed",
            ),
            (
                ("task renamed", |j| server(j).name = "srv".into()),
                "tasks added, removed or renamed",
            ),
            (
                ("driver", |j| server(j).driver = "exec".into()),
                "task Driver",
            ),
            (("user", |j| server(j).user = "nobody".into()), "task User"),
            (
                ("config deep", |j| {
                    server(j).config = Some(json!({"image": "nginx:1", "ports": ["https"]}))
                }),
                "task Config",
            ),
            (
                ("env", |j| {
                    server(j).env = Some([("A".to_string(), "1".to_string())].into())
                }),
                "task Env",
            ),
            (
                ("artifacts", |j| {
                    server(j).artifacts = Some(json!([{"GetterSource": "x"}]))
                }),
                "task Artifacts",
            ),
            (
                ("templates", |j| {
                    server(j).templates = Some(json!([{"EmbeddedTmpl": "x"}]))
                }),
                "task Templates",
            ),
            (
                ("vault", |j| server(j).vault = Some(json!({"Role": "r"}))),
                "task Vault",
            ),
            (
                ("task consul namespace", |j| {
                    server(j).consul = Some(Consul {
                        namespace: "ns".into(),
                        ..Consul::default()
                    })
                }),
                "task Consul",
            ),
            (
                ("task consul cluster", |j| {
                    server(j).consul = Some(Consul {
                        cluster: "c2".into(),
                        ..Consul::default()
                    })
                }),
                "task Consul",
            ),
            (
                ("volume mounts", |j| {
                    server(j).volume_mounts = Some(json!([{"Volume": "v"}]))
                }),
                "task VolumeMounts",
            ),
            (
                ("identity", |j| {
                    server(j).identity = Some(json!({"Name": "default"}))
                }),
                "task Identity",
            ),
            (
                ("identities", |j| {
                    server(j).identities = Some(json!([{"Name": "vault"}]))
                }),
                "task Identities",
            ),
            (
                ("log disabled", |j| {
                    if let Some(l) = server(j).log_config.as_mut() {
                        l.disabled = Some(true);
                    }
                }),
                "task LogConfig.Disabled",
            ),
            (
                ("task render templates", |j| {
                    if let Some(p) = server(j).restart_policy.as_mut() {
                        p.render_templates = Some(true);
                    }
                }),
                "task RestartPolicy.RenderTemplates",
            ),
            (
                ("task meta", |j| {
                    server(j).meta = Some(Meta::from([("k".to_string(), "v".to_string())]))
                }),
                "task Meta (combined)",
            ),
            (
                ("group meta", |j| {
                    web(j).meta = Some(Meta::from([("tier".to_string(), "back".to_string())]))
                }),
                "task Meta (combined)",
            ),
            (("job meta", |j| j.meta = None), "task Meta (combined)"),
            (
                ("task networks", |j| {
                    if let Some(r) = server(j).resources.as_mut() {
                        r.networks = Some(json!([{"MBits": 10}]));
                    }
                }),
                "task Networks",
            ),
            (
                ("cpu", |j| set_resource(j, |r| r.cpu = Some(200))),
                "task Resources.CPU",
            ),
            (
                ("cores", |j| set_resource(j, |r| r.cores = Some(2))),
                "task Resources.Cores",
            ),
            (
                ("memory", |j| set_resource(j, |r| r.memory_mb = Some(512))),
                "task Resources.MemoryMB",
            ),
            (
                ("memory max", |j| {
                    set_resource(j, |r| r.memory_max_mb = Some(1024))
                }),
                "task Resources.MemoryMaxMB",
            ),
            (
                ("devices", |j| {
                    set_resource(j, |r| r.devices = Some(json!([{"Name": "nvidia/gpu"}])))
                }),
                "task Resources.Devices",
            ),
            (
                ("numa", |j| {
                    set_resource(j, |r| r.numa = Some(json!({"Affinity": "require"})))
                }),
                "task Resources.NUMA",
            ),
            (
                ("secrets", |j| set_resource(j, |r| r.secrets_mb = Some(2))),
                "task Resources.SecretsMB",
            ),
            (
                ("ephemeral disk", |j| {
                    web(j).ephemeral_disk = Some(json!({"SizeMB": 500}))
                }),
                "group EphemeralDisk",
            ),
            (
                ("group networks", |j| {
                    web(j).networks = Some(json!([{"Mode": "bridge"}]))
                }),
                "group Networks",
            ),
            (
                ("group volumes", |j| {
                    web(j).volumes = Some(json!({"data": {"Type": "host"}}))
                }),
                "group Volumes",
            ),
            (
                ("group consul namespace", |j| {
                    web(j).consul = Some(Consul {
                        namespace: "ns".into(),
                        ..Consul::default()
                    })
                }),
                "group Consul",
            ),
            (
                ("group consul cluster", |j| {
                    web(j).consul = Some(Consul {
                        cluster: "c2".into(),
                        ..Consul::default()
                    })
                }),
                "group Consul",
            ),
            (
                ("connect block", |j| {
                    set_service(
                        j,
                        0,
                        json!({"Name": "api", "PortLabel": "http", "Connect": {"Native": true}}),
                    )
                }),
                "group Connect services",
            ),
            (
                ("connect port label", |j| {
                    set_service(
                        j,
                        0,
                        json!({"Name": "api", "PortLabel": "grpc", "Connect": {"SidecarService": {}}}),
                    )
                }),
                "group Connect services",
            ),
            (
                ("connect removed", |j| {
                    set_service(j, 0, json!({"Name": "api", "PortLabel": "http"}))
                }),
                "group Connect services",
            ),
            (
                ("connect added, lower-case key", |j| {
                    set_service(
                        j,
                        1,
                        json!({"Name": "metrics", "PortLabel": "m", "connect": {"SidecarService": {}}}),
                    )
                }),
                "group Connect services",
            ),
            (
                ("group render templates", |j| {
                    if let Some(p) = web(j).restart_policy.as_mut() {
                        p.render_templates = Some(true);
                    }
                }),
                "group RestartPolicy.RenderTemplates",
            ),
        ];
        for ((name, change), expected) in cases {
            assert_eq!(reason_after(change), Some(expected), "{name}");
        }
    }

    fn set_resource(j: &mut Job, f: impl FnOnce(&mut Resources)) {
        f(server(j).resources.get_or_insert_with(Resources::default));
    }

    fn set_service(j: &mut Job, idx: usize, service: Value) {
        if let Some(s) = web(j).services.as_mut().and_then(|s| s.get_mut(idx)) {
            *s = service;
        }
    }

    #[test]
    fn c16_in_place_changes() {
        let cases: Vec<Change> = vec![
            ("count", |j| web(j).count = Some(7)),
            ("update block", |j| {
                web(j).update = Some(UpdateStrategy {
                    canary: Some(2),
                    ..UpdateStrategy::nomad_default()
                })
            }),
            ("job-level update", |j| j.update.max_parallel = Some(4)),
            ("job constraints", |j| {
                j.constraints = Some(json!([{"LTarget": "${attr.os}"}]))
            }),
            ("group constraints", |j| {
                web(j).constraints = Some(json!([{"LTarget": "${attr.os}"}]))
            }),
            ("task constraints", |j| {
                server(j).constraints = Some(json!([{"LTarget": "${attr.os}"}]))
            }),
            ("affinities", |j| {
                web(j).affinities = Some(json!([{"Weight": 50}]))
            }),
            ("spreads", |j| {
                web(j).spreads = Some(json!([{"Attribute": "${node.datacenter}"}]))
            }),
            ("priority", |j| j.priority = 90),
            ("job name", |j| j.name = "renamed".into()),
            ("version tag", |j| {
                j.version_tag = Some(json!({"Name": "v1"}))
            }),
            ("reschedule policy", |j| {
                if let Some(p) = web(j).reschedule_policy.as_mut() {
                    p.attempts = Some(9);
                }
            }),
            ("group restart attempts", |j| {
                if let Some(p) = web(j).restart_policy.as_mut() {
                    p.attempts = Some(9);
                }
            }),
            ("task restart mode", |j| {
                if let Some(p) = server(j).restart_policy.as_mut() {
                    p.mode = Some("delay".into());
                }
            }),
            ("plain service checks", |j| {
                set_service(
                    j,
                    1,
                    json!({"Name": "metrics", "PortLabel": "m", "Checks": [{"Type": "tcp"}]}),
                )
            }),
            ("connect service tags", |j| {
                set_service(
                    j,
                    0,
                    json!({"Name": "api", "PortLabel": "http", "Tags": ["x"], "Connect": {"SidecarService": {}}}),
                )
            }),
            ("task services", |j| {
                server(j).services = Some(vec![json!({"Name": "s"})])
            }),
            ("null connect is not connect", |j| {
                set_service(
                    j,
                    1,
                    json!({"Name": "metrics", "PortLabel": "m", "Connect": null}),
                )
            }),
            ("tasks reordered", |j| web(j).tasks.reverse()),
            ("services reordered", |j| {
                if let Some(s) = web(j).services.as_mut() {
                    s.reverse();
                }
            }),
            ("kill timeout", |j| {
                server(j).kill_timeout = Some(30 * SECOND_NS)
            }),
            ("log rotation", |j| {
                server(j).log_config = Some(LogConfig {
                    max_files: Some(2),
                    max_file_size_mb: Some(5),
                    ..LogConfig::default()
                })
            }),
            ("disk mb", |j| set_resource(j, |r| r.disk_mb = Some(900))),
            ("absent vs empty env", |j| {
                server(j).env = Some(Default::default())
            }),
            ("absent vs empty artifacts", |j| {
                server(j).artifacts = Some(json!([]))
            }),
            ("absent vs null vault", |j| {
                server(j).vault = Some(Value::Null)
            }),
            ("other group changed", |j| {
                j.task_groups[1].tasks[0].driver = "exec".into()
            }),
            ("stop", |j| j.stop = true),
        ];
        for (name, change) in cases {
            assert_eq!(reason_after(change), None, "{name}");
        }
    }

    #[test]
    fn c16_duplicate_task_names_pair_by_occurrence() {
        let mut old = base();
        let mut twin = web(&mut old).tasks[0].clone();
        twin.driver = "exec".into();
        web(&mut old).tasks[1] = twin;
        assert!(!needs_destructive_update(&old, &old, "web"));
        let mut new = old.clone();
        web(&mut new).tasks.reverse();
        assert!(needs_destructive_update(&old, &new, "web"));
        web(&mut new).tasks[0].name = "other".into();
        assert!(needs_destructive_update(&old, &new, "web"));
    }

    #[test]
    fn c16_connect_key_lookup_ignores_case_and_prefers_exact_key() {
        let v = json!({"connect": null, "Connect": {"x": 1}});
        assert_eq!(get_ci(&v, "Connect"), Some(&json!({"x": 1})));
        assert_eq!(get_ci(&json!({"CONNECT": 1}), "Connect"), Some(&json!(1)));
        assert_eq!(get_ci(&json!("not an object"), "Connect"), None);
    }

    #[test]
    fn c16_never_panics_on_default_jobs() {
        let mut odd = Job::default();
        odd.task_groups.push(TaskGroup {
            services: Some(vec![json!(1), json!(null), json!({"Connect": {}})]),
            tasks: vec![Task::default(), Task::default()],
            ..TaskGroup::default()
        });
        assert!(needs_destructive_update(&odd, &Job::default(), ""));
        assert!(!needs_destructive_update(&odd, &odd, ""));
    }

    // ---- R2 --------------------------------------------------------------------------

    #[test]
    fn r2_identical_jobs_have_no_spec_change() {
        assert!(!spec_changed(&base(), &base()));
    }

    #[test]
    fn r2_bookkeeping_fields_are_ignored() {
        let cases: Vec<Change> = vec![
            ("Status", |j| j.status = "dead".into()),
            ("StatusDescription", |j| j.status_description = "x".into()),
            ("Stable", |j| j.stable = true),
            ("Version", |j| j.version = 7),
            ("CreateIndex", |j| j.create_index = 11),
            ("ModifyIndex", |j| j.modify_index = 12),
            ("JobModifyIndex", |j| j.job_modify_index = 13),
            ("SubmitTime", |j| j.submit_time = 1_700_000_000_000_000_000),
        ];
        let mut all = base();
        for (name, change) in cases {
            let mut candidate = base();
            change(&mut candidate);
            assert!(!spec_changed(&base(), &candidate), "{name}");
            assert!(!spec_changed(&candidate, &base()), "{name}");
            change(&mut all);
        }
        assert!(!spec_changed(&base(), &all));
    }

    #[test]
    fn r2_version_tag_counts_as_spec_change() {
        let mut tagged = base();
        tagged.version_tag = Some(json!({"Name": "golden", "Description": "", "TaggedTime": 1}));
        assert!(spec_changed(&base(), &tagged));
    }

    #[test]
    fn r2_everything_else_counts_as_spec_change() {
        let cases: Vec<Change> = vec![
            ("Meta", |j| j.meta = None),
            ("Priority", |j| j.priority = 51),
            ("Stop", |j| j.stop = true),
            ("NomadTokenID", |j| j.nomad_token_id = "accessor".into()),
            ("UI", |j| {
                j.ui = Some(json!({"Description": "d", "Links": []}))
            }),
            ("Update", |j| j.update.max_parallel = Some(3)),
            ("group update", |j| {
                if let Some(u) = web(j).update.as_mut() {
                    u.auto_revert = Some(true);
                }
            }),
            ("Count", |j| web(j).count = Some(4)),
            ("TaskGroups", |j| {
                j.task_groups.pop();
            }),
            ("task", |j| server(j).kill_timeout = Some(SECOND_NS)),
            ("Name", |j| j.name = "n".into()),
            ("Datacenters", |j| j.datacenters = Some(vec!["dc2".into()])),
            ("Constraints", |j| j.constraints = Some(json!([]))),
            ("AllAtOnce", |j| j.all_at_once = true),
            ("Periodic", |j| j.periodic = Some(json!({"Enabled": true}))),
            ("VaultNamespace", |j| j.vault_namespace = "v".into()),
            ("NodePool", |j| j.node_pool = "gpu".into()),
        ];
        for (name, change) in cases {
            let mut candidate = base();
            change(&mut candidate);
            assert!(spec_changed(&base(), &candidate), "{name}");
        }
    }
}
