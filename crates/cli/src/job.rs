//! `rollout job …`: register, plan and validate a job from a jobspec (Nomad HCL2 or
//! JSON), read its status and history, revert, stop and mark versions stable (spec
//! §7.7–7.10).

use crate::client::encode;
use crate::deployment::{self, version_registered_at};
use crate::monitor;
use crate::operator::{
    str_of, u64_of, CmdResult, Context, Ctx, Failure, OperatorArgs, EXIT_PLACEMENT_FAILED,
};
use crate::output::{self, key_values, status_color, Cell, Style, Table};
use crate::resolve;
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};
use std::io::Read;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct JobArgs {
    #[command(flatten)]
    op: OperatorArgs,
    #[command(subcommand)]
    command: JobCommand,
}

/// A jobspec file and its HCL2 variables: defaults, then `NOMAD_VAR_<name>` environment
/// variables, then `-var-file`s, then `-var`s (Nomad's order, a later one winning).
#[derive(Clone, Debug, Args)]
pub struct SpecArgs {
    /// The jobspec: HCL2 or JSON (told apart by content), or `-` for stdin.
    file: String,
    /// Set an HCL2 variable: `-var image=app:2` (repeatable; a later one wins). Over
    /// `-var-file` values, which are over `NOMAD_VAR_<name>` environment variables.
    #[arg(long = "var", value_name = "KEY=VALUE")]
    vars: Vec<String>,
    /// Read HCL2 variables from a file of `name = value` lines (repeatable).
    #[arg(long = "var-file", value_name = "FILE")]
    var_files: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum JobCommand {
    /// Register (create or update) a job from a jobspec file, then follow its
    /// evaluation and deployment.
    ///
    /// The file is a Nomad HCL2 jobspec (`web.nomad.hcl`) or Nomad's JSON job (the API's
    /// register body `{"Job": {...}}`, as `nomad job run -output` writes it, or the job
    /// object alone), told apart by content. `-` reads stdin.
    ///
    /// Exit codes as Nomad's: 0 the deployment succeeded (or there was none to follow);
    /// 1 an error, or the deployment failed or was cancelled (after following the
    /// rollback's deployment); 2 the evaluation could not place every allocation.
    Run {
        #[command(flatten)]
        spec: SpecArgs,
        /// Register only if the job's modify index is still INDEX (0: only if the job
        /// does not exist yet).
        #[arg(long, value_name = "INDEX")]
        check_index: Option<u64>,
        /// Follow the evaluation and the deployment (the default, as Nomad's; accepted
        /// for scripts that ask for it).
        #[arg(long, conflicts_with = "detach")]
        monitor: bool,
        /// Return once the job is registered and its evaluation created.
        #[arg(long)]
        detach: bool,
        /// Full IDs.
        #[arg(long)]
        verbose: bool,
    },
    /// Show what registering a jobspec would change, without registering it.
    ///
    /// Exit codes as Nomad's: 0 nothing would change, 1 allocations would be created,
    /// destroyed or updated (or the spec changes), 255 an error.
    Plan {
        #[command(flatten)]
        spec: SpecArgs,
        /// Show the diff (the default; Nomad's `-diff`).
        #[arg(long)]
        diff: bool,
        /// Also list the fields of added and removed objects.
        #[arg(long)]
        verbose: bool,
    },
    /// Check a jobspec: parse it, and validate the job on the agent.
    Validate {
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Show a job, its latest deployment and its allocations; without an ID, list the
    /// jobs.
    Status {
        /// Job ID or unique prefix.
        id: Option<String>,
        /// Full IDs.
        #[arg(long)]
        verbose: bool,
    },
    /// Print a job as the API's JSON (`{"Job": …}`).
    Inspect {
        /// Job ID or unique prefix.
        id: String,
    },
    /// List a job's deployments, newest first.
    Deployments {
        /// Job ID or unique prefix.
        id: String,
        /// Full IDs.
        #[arg(long)]
        verbose: bool,
    },
    /// List a job's allocations, newest first.
    Allocs {
        /// Job ID or unique prefix.
        id: String,
        /// Full IDs.
        #[arg(long)]
        verbose: bool,
    },
    /// Promote the canaries of a job's latest deployment: all groups, or those named.
    Promote {
        /// Job ID or unique prefix.
        id: String,
        /// A task group to promote; repeat or list several.
        #[arg(long = "group", value_name = "GROUP", num_args = 1..)]
        groups: Vec<String>,
    },
    /// List a job's versions, newest first, with their deployments.
    History {
        /// Job ID or unique prefix.
        id: String,
    },
    /// Change the count of a job's task group: `job scale JOB [GROUP] COUNT` (GROUP may
    /// be left out when the job has one group).
    ///
    /// The new count is registered as a new job version (with an update strategy, a
    /// deployment); then, as `job run`, it follows the evaluation and the deployment,
    /// with the same exit codes. `-detach` prints the evaluation ID and returns.
    #[command(override_usage = "rollout job scale [OPTIONS] <JOB> [GROUP] <COUNT>")]
    Scale {
        /// Scale only if the job's modify index is still INDEX.
        #[arg(long, value_name = "INDEX")]
        check_index: Option<u64>,
        /// Return once the scaling is registered, printing the evaluation ID.
        #[arg(long)]
        detach: bool,
        /// Full IDs.
        #[arg(long)]
        verbose: bool,
        /// The job: its ID or a unique prefix.
        job: String,
        /// [GROUP] COUNT: the task group (left out for a job of one group), the count.
        #[arg(value_name = "[GROUP] COUNT", num_args = 1..=2, required = true)]
        args: Vec<String>,
    },
    /// Register an earlier version of a job again, as a new version.
    Revert {
        /// Job ID or unique prefix.
        id: String,
        /// The version to go back to.
        version: u64,
    },
    /// Stop a job (its allocations stop); --purge also forgets it.
    Stop {
        /// Job ID or unique prefix.
        id: String,
        /// Remove the job, its versions and its deployments.
        #[arg(long)]
        purge: bool,
    },
    /// Mark a job version stable (the target of automatic rollbacks).
    Stable {
        /// Job ID or unique prefix.
        id: String,
        /// The version to mark.
        version: u64,
        /// Mark it unstable instead.
        #[arg(long)]
        unstable: bool,
    },
}

pub fn main(args: JobArgs) -> ExitCode {
    let command = args.command;
    args.op
        .run(move |ctx| async move { run(&ctx, command).await })
}

async fn run(ctx: &Ctx, command: JobCommand) -> CmdResult {
    match command {
        JobCommand::Run {
            spec,
            check_index,
            monitor: _,
            detach,
            verbose,
        } => job_run(ctx, &spec, check_index, !detach, verbose).await,
        JobCommand::Plan {
            spec,
            diff: _,
            verbose,
        } => match job_plan(ctx, &spec, verbose).await {
            // Nomad's plan exits 255 on errors: 1 means "changes".
            Err(mut f) if f.message.is_some() => {
                f.code = 255;
                Err(f)
            }
            other => other,
        },
        JobCommand::Validate { spec } => job_validate(ctx, &spec).await,
        JobCommand::Status { id: None, verbose } => list(ctx, verbose).await,
        JobCommand::Status {
            id: Some(id),
            verbose,
        } => status(ctx, &id, verbose).await,
        JobCommand::Inspect { id } => {
            let job = resolve::job(ctx, &id).await?;
            ctx.print_json(&json!({ "Job": job }));
            Ok(())
        }
        JobCommand::Deployments { id, verbose } => {
            let job = resolve::job(ctx, &id).await?;
            let list = ctx
                .read(
                    &format!(
                        "/v1/job/{}/deployments?namespace={}",
                        job_path(&job),
                        ns(&job)
                    ),
                    "retrieving the job's deployments",
                )
                .await?;
            let mut list = list.as_array().cloned().unwrap_or_default();
            resolve::newest_first(&mut list);
            ctx.print(&Value::Array(list.clone()), |_| {
                if list.is_empty() {
                    format!("No deployments found for job {:?}", str_of(&job, "ID"))
                } else {
                    deployment::list_table(&list, verbose, &ctx.style, output::now_ns())
                }
            });
            Ok(())
        }
        JobCommand::Allocs { id, verbose } => {
            let job = resolve::job(ctx, &id).await?;
            let list = ctx
                .read(
                    &format!(
                        "/v1/job/{}/allocations?namespace={}",
                        job_path(&job),
                        ns(&job)
                    ),
                    "retrieving the job's allocations",
                )
                .await?;
            let mut list = list.as_array().cloned().unwrap_or_default();
            resolve::newest_first(&mut list);
            ctx.print(&Value::Array(list.clone()), |_| {
                if list.is_empty() {
                    format!("No allocations placed for job {:?}", str_of(&job, "ID"))
                } else {
                    allocations_table(&list, verbose, &ctx.style, output::now_ns())
                }
            });
            Ok(())
        }
        JobCommand::Promote { id, groups } => {
            let job = resolve::job(ctx, &id).await?;
            let d = ctx
                .read(
                    &format!(
                        "/v1/job/{}/deployment?namespace={}",
                        job_path(&job),
                        ns(&job)
                    ),
                    "retrieving the job's deployment",
                )
                .await?;
            if !d.is_object() {
                return Err(Failure::msg(format!(
                    "No deployment found for job {:?}",
                    str_of(&job, "ID")
                )));
            }
            deployment::promote(ctx, &d, &groups).await
        }
        JobCommand::History { id } => history(ctx, &id).await,
        JobCommand::Scale {
            check_index,
            detach,
            verbose,
            job,
            args,
        } => scale(ctx, &job, &args, check_index, !detach, verbose).await,
        JobCommand::Revert { id, version } => {
            let job = resolve::job(ctx, &id).await?;
            let id = str_of(&job, "ID");
            let r = ctx
                .write(
                    &format!("/v1/job/{}/revert", encode(id)),
                    &json!({"JobID": id, "JobVersion": version}),
                    "reverting job",
                )
                .await?;
            let now = registered_version(ctx, &job, u64_of(&r, "JobModifyIndex")).await;
            ctx.print(&r, |r| {
                let mut text = format!("Job {id:?} reverted to version {version}");
                if let Some(v) = now {
                    text.push_str(&format!(", registered as version {v}"));
                }
                format!(
                    "{text}; evaluation {:?}",
                    output::id(str_of(r, "EvalID"), false)
                )
            });
            Ok(())
        }
        JobCommand::Stop { id, purge } => {
            let job = resolve::job(ctx, &id).await?;
            let id = str_of(&job, "ID");
            let r = ctx
                .remove(
                    &format!("/v1/job/{}?purge={purge}", encode(id)),
                    "deregistering job",
                )
                .await?;
            ctx.print(&r, |r| {
                let done = if purge {
                    "stopped and purged"
                } else {
                    "stopped"
                };
                format!(
                    "Job {id:?} {done}; evaluation {:?}",
                    output::id(str_of(r, "EvalID"), false)
                )
            });
            Ok(())
        }
        JobCommand::Stable {
            id,
            version,
            unstable,
        } => {
            let job = resolve::job(ctx, &id).await?;
            let id = str_of(&job, "ID");
            let r = ctx
                .write(
                    &format!("/v1/job/{}/stable", encode(id)),
                    &json!({"JobID": id, "JobVersion": version, "Stable": !unstable}),
                    "setting job stability",
                )
                .await?;
            ctx.print(&r, |_| {
                let what = if unstable { "unstable" } else { "stable" };
                format!("Job {id:?} version {version} marked {what}")
            });
            Ok(())
        }
    }
}

/// The value of `key` in a JSON object, matched as the API decodes bodies: exact name
/// first, else case-insensitively (spec §6).
fn field<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The register body for a job file: the API's `{"Job": …}` as it is, or a bare job
/// wrapped in one. Returns the body and the job's ID.
pub fn register_body(text: &str, check_index: Option<u64>) -> Result<(Value, String), String> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        format!("not JSON ({e}); rollout reads Nomad's JSON job format (`nomad job run -output` writes it)")
    })?;
    let Value::Object(top) = value else {
        return Err("the file must hold a JSON object".into());
    };
    let mut body = match field(&top, "Job") {
        Some(Value::Object(_)) => top,
        _ => {
            let mut body = Map::new();
            body.insert("Job".into(), Value::Object(top));
            body
        }
    };
    if let Some(index) = check_index {
        body.insert("EnforceIndex".into(), json!(true));
        body.insert("JobModifyIndex".into(), json!(index));
    }
    let id = match field(&body, "Job") {
        Some(Value::Object(job)) => field(job, "ID").and_then(Value::as_str).unwrap_or(""),
        _ => "",
    }
    .to_owned();
    if id.is_empty() {
        return Err("the job has no ID".into());
    }
    Ok((Value::Object(body), id))
}

fn read_file(file: &str) -> Result<String, Failure> {
    let mut text = String::new();
    let read = if file == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(file).map(|t| text = t)
    };
    read.map_err(|e| Failure::new("reading the job file", format!("{file}: {e}")))?;
    Ok(text)
}

/// The job of a jobspec file (HCL2 or JSON) and, for JSON, the register body as written.
fn load_job(spec: &SpecArgs) -> Result<(Value, Option<String>), Failure> {
    let file = &spec.file;
    let text = read_file(file)?;
    if rollout_jobspec::is_json(&text) {
        let job = rollout_jobspec::json_job(&text)
            .map_err(|e| Failure::new("reading the job file", format!("{file}: {e}")))?;
        return Ok((job, Some(text)));
    }
    let mut vars = Vec::new();
    for v in &spec.vars {
        let Some((k, val)) = v.split_once('=') else {
            return Err(Failure::msg(format!(
                "Error parsing -var {v:?}: expected KEY=VALUE"
            )));
        };
        vars.push((k.trim().to_owned(), val.to_owned()));
    }
    let mut var_files = Vec::new();
    for f in &spec.var_files {
        let content = std::fs::read_to_string(f)
            .map_err(|e| Failure::new("reading the var file", format!("{f}: {e}")))?;
        var_files.push((f.clone(), content));
    }
    let base_dir = if file == "-" {
        std::env::current_dir().ok()
    } else {
        Some(
            std::path::Path::new(file)
                .parent()
                .map(std::path::Path::to_path_buf)
                .unwrap_or_default(),
        )
    };
    let options = rollout_jobspec::Options {
        vars,
        var_files,
        env: rollout_jobspec::env_vars(std::env::vars_os()),
        base_dir,
    };
    let name = if file == "-" {
        "<stdin>"
    } else {
        file.as_str()
    };
    let job = rollout_jobspec::parse(name, &text, &options)
        .map_err(|e| Failure::new("parsing the job file", e))?;
    Ok((job, None))
}

/// The register body of a jobspec file and the job's ID.
fn load_register_body(
    spec: &SpecArgs,
    check_index: Option<u64>,
) -> Result<(Value, String), Failure> {
    let file = &spec.file;
    let bad = |e: String| Failure::new("reading the job file", format!("{file}: {e}"));
    match load_job(spec)? {
        (_, Some(json_text)) => register_body(&json_text, check_index).map_err(bad),
        (job, None) => {
            let text = json!({"Job": job}).to_string();
            register_body(&text, check_index).map_err(bad)
        }
    }
}

async fn job_plan(ctx: &Ctx, spec: &SpecArgs, verbose: bool) -> CmdResult {
    let (body, id) = load_register_body(spec, None)?;
    let request = json!({"Job": body["Job"], "Diff": true});
    let r = ctx
        .write(
            &format!("/v1/job/{}/plan", encode(&id)),
            &request,
            "running the plan",
        )
        .await?;
    if ctx.json {
        ctx.print_json(&r);
    } else {
        output::emit(crate::plan::plan_text(&r, &spec.file, verbose));
    }
    match crate::plan::exit_code(&r) {
        0 => Ok(()),
        code => Err(Failure::quiet(code)),
    }
}

async fn job_validate(ctx: &Ctx, spec: &SpecArgs) -> CmdResult {
    let (body, _) = load_register_body(spec, None)?;
    let r = ctx
        .write(
            "/v1/validate/job",
            &json!({"Job": body["Job"]}),
            "validating the job",
        )
        .await?;
    if ctx.json {
        ctx.print_json(&r);
    }
    let warnings = str_of(&r, "Warnings");
    if !warnings.is_empty() {
        eprintln!("Job Warnings:\n{}", warnings.trim_end());
    }
    let error = str_of(&r, "Error");
    if !error.is_empty() {
        return Err(Failure::msg(format!(
            "Job validation errors:\n{}",
            error.trim_end()
        )));
    }
    if !ctx.json {
        output::emit("Job validation successful");
    }
    Ok(())
}

async fn job_run(
    ctx: &Ctx,
    spec: &SpecArgs,
    check_index: Option<u64>,
    monitor: bool,
    verbose: bool,
) -> CmdResult {
    let (body, id) = load_register_body(spec, check_index)?;
    let r = ctx.write("/v1/jobs", &body, "registering job").await?;
    let changed = is_new_version(&r);
    let job = ctx
        .read(
            &format!(
                "/v1/job/{}?namespace={}",
                encode(&id),
                encode(&registered_namespace(ctx, &body))
            ),
            "retrieving job",
        )
        .await?;
    let started = started_deployment(ctx, &job, &r).await?;
    if ctx.json {
        if monitor {
            output::emit(&r);
        } else {
            ctx.print_json(&r);
        }
    } else {
        let version = output::text(&job["Version"]);
        let mut text = if changed {
            format!("Job {id:?} registered as version {version}")
        } else {
            format!("Job {id:?} unchanged at version {version}")
        };
        text.push_str(&format!(
            "; evaluation {:?}",
            output::id(str_of(&r, "EvalID"), verbose)
        ));
        if let Some(d) = &started {
            text.push_str(&format!(
                ", deployment {:?}",
                output::id(str_of(d, "ID"), verbose)
            ));
        }
        output::emit(text);
        let warnings = str_of(&r, "Warnings");
        if !warnings.is_empty() {
            eprintln!("Job warnings: {}", output::one_line(warnings));
        }
    }
    if !monitor {
        return Ok(());
    }
    follow_registration(ctx, &r, started, verbose).await
}

/// The namespace a register `body` lands in: the one asked for (the query's namespace
/// beats the body's), else the job's own, else `default` (spec §2).
fn registered_namespace(ctx: &Ctx, body: &Value) -> String {
    let own = match body.as_object().and_then(|b| field(b, "Job")) {
        Some(Value::Object(job)) => field(job, "Namespace").and_then(Value::as_str),
        _ => None,
    };
    match own.filter(|n| !n.is_empty() && !ctx.namespace_given) {
        Some(n) => n.to_owned(),
        None => ctx.namespace.clone(),
    }
}

/// Whether a registration (`job run`, `job scale`, answered by `r`) wrote a new job
/// version: a new version and its deployment are written at the index of the
/// registration; an unchanged spec only gets a new evaluation, at a later index (spec
/// §7.8).
fn is_new_version(r: &Value) -> bool {
    u64_of(r, "JobModifyIndex") == u64_of(r, "Index")
}

/// The deployment that the registration answered by `r` started, if any (the engine
/// creates it in the write that registers the version).
async fn started_deployment(ctx: &Ctx, job: &Value, r: &Value) -> Result<Option<Value>, Failure> {
    if !is_new_version(r) {
        return Ok(None);
    }
    let latest = ctx
        .read(
            &format!("/v1/job/{}/deployment?namespace={}", job_path(job), ns(job)),
            "retrieving the job's deployment",
        )
        .await?;
    Ok((u64_of(&latest, "CreateIndex") == u64_of(r, "JobModifyIndex")).then_some(latest))
}

/// Follows a registration's evaluation, then the deployment it `started` (and a
/// rollback's) to its end, with `job run`'s exit codes: 0 done, 1 the deployment failed,
/// 2 the evaluation could not place every allocation and no deployment then succeeded.
async fn follow_registration(
    ctx: &Ctx,
    r: &Value,
    started: Option<Value>,
    verbose: bool,
) -> CmdResult {
    let placement_failed = follow_evaluation(ctx, str_of(r, "EvalID"), verbose).await?;
    match started {
        // A deployment that succeeds despite an early placement failure is a success
        // (capacity came), as for Nomad.
        Some(d) => monitor::follow(ctx, d, verbose).await,
        None => {
            if !ctx.json {
                output::emit("No deployment to monitor");
            }
            if placement_failed {
                Err(Failure::quiet(EXIT_PLACEMENT_FAILED))
            } else {
                Ok(())
            }
        }
    }
}

/// `job scale JOB [GROUP] COUNT`, as Nomad's: the group may be left out when the job
/// has one; the scaling is registered (`POST /v1/job/:id/scale`) and, unless detached,
/// followed as `job run` follows a registration.
async fn scale(
    ctx: &Ctx,
    job_input: &str,
    args: &[String],
    check_index: Option<u64>,
    monitor: bool,
    verbose: bool,
) -> CmdResult {
    let (group, count) = match args {
        [count] => (None, count),
        [group, count] => (Some(group.clone()), count),
        _ => {
            return Err(Failure::usage(
                "Command requires at least two arguments and no more than three",
            ))
        }
    };
    let count: i64 = count
        .parse()
        .map_err(|e| Failure::usage(format!("Failed to convert count string to int: {e}")))?;
    let job = resolve::job(ctx, job_input).await?;
    let id = str_of(&job, "ID").to_owned();
    let scale_status = ctx
        .read(
            &format!("/v1/job/{}/scale?namespace={}", job_path(&job), ns(&job)),
            "querying job",
        )
        .await?;
    let groups: Vec<String> = scale_status["TaskGroups"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let group = match (group, groups.as_slice()) {
        (None, [only]) => only.clone(),
        (None, _) => return Err(Failure::msg("Group name required")),
        (Some(g), _) if groups.contains(&g) => g,
        (Some(g), _) => return Err(Failure::msg(format!("Group {g} not found within job"))),
    };
    let mut body = json!({
        "Count": count,
        "Target": {"Group": group},
        "Message": "submitted using the rollout CLI",
    });
    if let Some(index) = check_index {
        body["EnforceIndex"] = json!(true);
        body["JobModifyIndex"] = json!(index);
    }
    let r = ctx
        .write(
            &format!("/v1/job/{}/scale?namespace={}", encode(&id), ns(&job)),
            &body,
            "submitting scaling request",
        )
        .await?;
    let warnings = str_of(&r, "Warnings");
    if !warnings.is_empty() {
        eprintln!("Job Warnings:\n{}\n", warnings.trim_end());
    }
    if !monitor {
        if ctx.json {
            ctx.print_json(&r);
        } else {
            output::emit(format!("Evaluation ID: {}", str_of(&r, "EvalID")));
        }
        return Ok(());
    }
    if ctx.json {
        output::emit(&r);
    }
    let started = started_deployment(ctx, &job, &r).await?;
    follow_registration(ctx, &r, started, verbose).await
}

/// Waits for evaluation `id` to be processed (blocking queries) and says how it ended;
/// true when it could not place every allocation (a blocked evaluation waits for
/// capacity).
async fn follow_evaluation(ctx: &Ctx, id: &str, verbose: bool) -> Result<bool, Failure> {
    if id.is_empty() {
        return Ok(false);
    }
    let path = format!("/v1/evaluation/{}", encode(id));
    let short = output::id(id, verbose);
    if !ctx.json {
        output::emit(format!("==> Monitoring evaluation {short:?}"));
    }
    let mut index = 0;
    let eval = loop {
        let answer = ctx
            .client
            .get_blocking(&path, index)
            .await
            .doing("following the evaluation")?;
        let eval = answer.json().doing("following the evaluation")?;
        if str_of(&eval, "Status") != "pending" {
            break eval;
        }
        index = index.max(answer.index).max(u64_of(&eval, "ModifyIndex"));
    };
    let status = str_of(&eval, "Status");
    if status == "failed" {
        return Err(Failure::msg(format!(
            "Evaluation {short:?} failed: {}",
            str_of(&eval, "StatusDescription")
        )));
    }
    let blocked = str_of(&eval, "BlockedEval");
    let (_, failures) = crate::eval::placement_failures(&eval);
    if !ctx.json {
        if failures {
            // Nomad's words, with each group's placement failures.
            output::emit(format!(
                "==> Evaluation {short:?} finished with status {status:?} but failed to place all allocations:\n{}",
                crate::eval::failed_placements(&eval)
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(|l| format!("    {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        } else {
            output::emit(format!(
                "==> Evaluation {short:?} finished with status {status:?}"
            ));
        }
        if !blocked.is_empty() {
            output::emit(format!(
                "==> Not every allocation could be placed: evaluation {:?} waits for capacity",
                output::id(blocked, verbose)
            ));
        }
    }
    Ok(failures || !blocked.is_empty() || status == "blocked")
}

/// A job's ID, encoded for a path.
fn job_path(job: &Value) -> String {
    encode(str_of(job, "ID"))
}

/// A job's namespace, encoded for a query.
fn ns(job: &Value) -> String {
    encode(str_of(job, "Namespace"))
}

/// `job status` without an ID: every job of the namespace.
pub async fn list(ctx: &Ctx, _verbose: bool) -> CmdResult {
    let jobs = ctx.read("/v1/jobs", "retrieving jobs").await?;
    ctx.print(&jobs, |jobs| {
        let jobs = jobs.as_array().map(Vec::as_slice).unwrap_or_default();
        if jobs.is_empty() {
            "No running jobs".into()
        } else {
            jobs_table(jobs, &ctx.style)
        }
    });
    Ok(())
}

/// Job stubs as Nomad's `job status` lists them.
pub fn jobs_table(jobs: &[Value], style: &Style) -> String {
    let mut t = Table::new(&["ID", "Type", "Priority", "Status", "Submit Date"]);
    for j in jobs {
        let status = str_of(j, "Status");
        let status = if j["Stop"] == true {
            format!("{status} (stopped)")
        } else {
            status.to_owned()
        };
        let color = status_color(str_of(j, "Status"));
        t.row(vec![
            str_of(j, "ID").into(),
            str_of(j, "Type").into(),
            output::text(&j["Priority"]).into(),
            Cell::colored(status, color),
            output::date(j["SubmitTime"].as_i64().unwrap_or(0)).into(),
        ]);
    }
    t.render(style)
}

/// The job version registered at `job_modify_index`.
async fn registered_version(ctx: &Ctx, job: &Value, job_modify_index: u64) -> Option<u64> {
    let d = json!({"JobID": job["ID"], "Namespace": job["Namespace"]});
    version_registered_at(ctx, &d, job_modify_index).await
}

pub async fn status(ctx: &Ctx, id: &str, verbose: bool) -> CmdResult {
    let job = resolve::job(ctx, id).await?;
    let id = str_of(&job, "ID");
    let ns = encode(str_of(&job, "Namespace"));
    let deployment = ctx
        .read(
            &format!("/v1/job/{}/deployment?namespace={ns}", encode(id)),
            "retrieving the job's deployment",
        )
        .await?;
    let allocations = ctx
        .read(
            &format!("/v1/job/{}/allocations?namespace={ns}", encode(id)),
            "retrieving the job's allocations",
        )
        .await?;
    let mut allocations = allocations.as_array().cloned().unwrap_or_default();
    resolve::newest_first(&mut allocations);
    let value = json!({"Job": job, "LatestDeployment": deployment, "Allocations": allocations});
    ctx.print(&value, |v| {
        status_text(v, verbose, &ctx.style, output::now_ns())
    });
    Ok(())
}

/// `rollout job status` for `{"Job", "LatestDeployment", "Allocations"}`.
pub fn status_text(v: &Value, verbose: bool, style: &Style, now_ns: i64) -> String {
    let job = &v["Job"];
    let status = if job["Stop"] == true {
        format!("{} (stopped)", str_of(job, "Status"))
    } else {
        str_of(job, "Status").to_owned()
    };
    let stable = if job["Stable"] == true {
        " (stable)"
    } else {
        ""
    };
    let rows = [
        ("ID", Cell::from(str_of(job, "ID"))),
        ("Name", str_of(job, "Name").into()),
        ("Namespace", str_of(job, "Namespace").into()),
        ("Type", str_of(job, "Type").into()),
        ("Priority", output::text(&job["Priority"]).into()),
        (
            "Status",
            Cell::colored(&status, status_color(str_of(job, "Status"))),
        ),
        (
            "Version",
            format!("{}{stable}", output::text(&job["Version"])).into(),
        ),
        (
            "Submitted",
            output::relative(job["SubmitTime"].as_i64().unwrap_or(0), now_ns).into(),
        ),
    ];
    let mut out = key_values(&rows, style);
    let d = &v["LatestDeployment"];
    if d.is_object() {
        let status = str_of(d, "Status");
        let rows = [
            ("ID", Cell::from(output::id(str_of(d, "ID"), verbose))),
            ("Job Version", output::text(&d["JobVersion"]).into()),
            ("Status", Cell::colored(status, status_color(status))),
            ("Description", str_of(d, "StatusDescription").into()),
        ];
        out.push_str(&format!(
            "\n\nLatest Deployment\n{}\n\nDeployed\n{}",
            key_values(&rows, style),
            deployment::groups_table(d, style, now_ns)
        ));
    }
    let allocs = v["Allocations"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    out.push_str("\n\nAllocations\n");
    if allocs.is_empty() {
        out.push_str("No allocations placed");
    } else {
        out.push_str(&allocations_table(allocs, verbose, style, now_ns));
    }
    out
}

/// Allocation stubs as a table, with their deployment health.
pub fn allocations_table(allocs: &[Value], verbose: bool, style: &Style, now_ns: i64) -> String {
    let mut t = Table::new(&[
        "ID",
        "Node ID",
        "Task Group",
        "Version",
        "Desired",
        "Status",
        "Health",
        "Created",
    ]);
    for a in allocs {
        let status = str_of(a, "ClientStatus");
        let ds = &a["DeploymentStatus"];
        let health = match ds["Healthy"].as_bool() {
            Some(true) => "healthy",
            Some(false) => "unhealthy",
            None => "-",
        };
        let health = if ds["Canary"] == true && health != "-" {
            format!("{health} (canary)")
        } else if ds["Canary"] == true {
            "- (canary)".to_owned()
        } else {
            health.to_owned()
        };
        let health_color = status_color(health.split(' ').next().unwrap_or(""));
        t.row(vec![
            output::id(str_of(a, "ID"), verbose).into(),
            output::id(str_of(a, "NodeID"), verbose).into(),
            str_of(a, "TaskGroup").into(),
            output::text(&a["JobVersion"]).into(),
            str_of(a, "DesiredStatus").into(),
            Cell::colored(status, status_color(status)),
            Cell::colored(health, health_color),
            output::relative(a["CreateTime"].as_i64().unwrap_or(0), now_ns).into(),
        ]);
    }
    t.render(style)
}

async fn history(ctx: &Ctx, id: &str) -> CmdResult {
    let job = resolve::job(ctx, id).await?;
    let id = encode(str_of(&job, "ID"));
    let ns = encode(str_of(&job, "Namespace"));
    let versions = ctx
        .read(
            &format!("/v1/job/{id}/versions?namespace={ns}"),
            "retrieving job versions",
        )
        .await?;
    let deployments = ctx
        .read(
            &format!("/v1/job/{id}/deployments?namespace={ns}"),
            "retrieving the job's deployments",
        )
        .await?;
    let versions = versions["Versions"].clone();
    if ctx.json {
        ctx.print_json(&versions);
        return Ok(());
    }
    let mut deployments = deployments.as_array().cloned().unwrap_or_default();
    resolve::newest_first(&mut deployments);
    output::emit(history_table(
        versions.as_array().map(Vec::as_slice).unwrap_or_default(),
        &deployments,
        &ctx.style,
        output::now_ns(),
    ));
    Ok(())
}

/// Versions newest first: stability, the status of the version's latest deployment,
/// when it was submitted.
pub fn history_table(
    versions: &[Value],
    deployments: &[Value],
    style: &Style,
    now_ns: i64,
) -> String {
    let mut t = Table::new(&["Version", "Stable", "Deployment", "Submitted"]);
    for v in versions {
        let deployment = deployments
            .iter()
            .find(|d| d["JobVersion"] == v["Version"])
            .map_or("-", |d| str_of(d, "Status"));
        t.row(vec![
            output::text(&v["Version"]).into(),
            output::text(&v["Stable"]).into(),
            Cell::colored(deployment, status_color(deployment)),
            output::relative(v["SubmitTime"].as_i64().unwrap_or(0), now_ns).into(),
        ]);
    }
    t.render(style)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_files_are_the_register_body_or_the_job() {
        let (body, id) =
            register_body(r#"{"Job": {"ID": "web"}, "EvalPriority": 70}"#, None).unwrap();
        assert_eq!(id, "web");
        assert_eq!(body, json!({"Job": {"ID": "web"}, "EvalPriority": 70}));
        let (body, id) = register_body(r#"{"id": "api", "TaskGroups": []}"#, Some(7)).unwrap();
        assert_eq!(id, "api");
        assert_eq!(
            body,
            json!({"Job": {"id": "api", "TaskGroups": []}, "EnforceIndex": true, "JobModifyIndex": 7})
        );
        assert!(register_body("job \"web\" {}", None)
            .unwrap_err()
            .contains("not JSON"));
        assert!(register_body(r#"{"Job": {"Name": "x"}}"#, None)
            .unwrap_err()
            .contains("no ID"));
        assert!(register_body("[]", None).is_err());
    }
}
