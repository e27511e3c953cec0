//! `rollout job run|plan|validate` with HCL2 jobspecs against the real agent: the plan
//! view and Nomad's exit codes (0 no changes, 1 changes, 255 error).

use crate::cli::{command, output, rollout, Normalizer};
use crate::common::Agent;
use insta::assert_snapshot;

const WEB: &str = r#"variable "image" {
  type    = string
  default = "app:1"
}

variable "count" {
  type    = number
  default = 2
}

job "web" {
  group "web" {
    count = var.count

    update {
      canary       = 1
      max_parallel = 1
      health_check = "manual"
    }

    task "app" {
      driver = "docker"

      config {
        image = var.image
      }

      env {
        ALLOC = "${NOMAD_ALLOC_ID}"
      }
    }
  }
}
"#;

fn spec_dir() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("web.nomad.hcl");
    std::fs::write(&path, WEB).expect("write jobspec");
    std::fs::write(dir.path().join("prod.vars.hcl"), "count = 3\n").expect("write var file");
    let path = path.to_str().expect("UTF-8 path").to_owned();
    (dir, path)
}

#[tokio::test]
async fn job_plan_prints_nomads_view_and_exits_1_for_changes_0_for_none() {
    let a = Agent::dev_external().await;
    let mut n = Normalizer::default();
    let (dir, file) = spec_dir();
    let dir_text = dir.path().to_str().unwrap().to_owned();
    let clean = |n: &mut Normalizer, t: &str| n.text(&t.replace(&dir_text, "DIR"));

    let new = rollout(&a, &["job", "plan", &file]).await;
    assert_eq!(new.code, 1, "{new:?}");
    assert_snapshot!("plan_new_job", clean(&mut n, &new.stdout));
    // Nothing was registered.
    assert_eq!(a.client.get("/v1/job/web").await.status, 404);

    let run = rollout(&a, &["job", "run", "-detach", &file, "-var", "image=app:1"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_snapshot!("run_hcl", clean(&mut n, &run.stdout));
    let job = a.job("web").await;
    assert_eq!(
        job["TaskGroups"][0]["Tasks"][0]["Env"]["ALLOC"],
        "${NOMAD_ALLOC_ID}"
    );
    a.converge().await;

    let same = rollout(&a, &["job", "plan", &file]).await;
    assert_eq!(same.code, 0, "{same:?}");
    assert_snapshot!("plan_unchanged", clean(&mut n, &same.stdout));

    let var_file = format!("{dir_text}/prod.vars.hcl");
    let changed = rollout(
        &a,
        &[
            "job",
            "plan",
            "-var",
            "image=app:2",
            "-var-file",
            &var_file,
            &file,
        ],
    )
    .await;
    assert_eq!(changed.code, 1, "{changed:?}");
    assert_snapshot!("plan_changed", clean(&mut n, &changed.stdout));

    // An error is 255, with the file, line and column.
    std::fs::write(&file, WEB.replace("count = var.count", "cont = var.count")).unwrap();
    let bad = rollout(&a, &["job", "plan", &file]).await;
    assert_eq!(bad.code, 255, "{bad:?}");
    assert_snapshot!("plan_error", bad.stderr.replace(&dir_text, "DIR"));
    a.stop().await;
}

#[tokio::test]
async fn job_validate_reports_parse_and_validation_errors() {
    let a = Agent::dev_external().await;
    let (dir, file) = spec_dir();
    let ok = rollout(&a, &["job", "validate", &file]).await;
    assert_eq!(
        (ok.code, ok.stdout.as_str()),
        (0, "Job validation successful\n"),
        "{ok:?}"
    );
    let invalid = dir.path().join("invalid.nomad.hcl");
    std::fs::write(&invalid, WEB.replace("count = var.count", "count = -1")).unwrap();
    let out = rollout(&a, &["job", "validate", invalid.to_str().unwrap()]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert_snapshot!("validate_errors", out.stderr);
    a.stop().await;
}

/// `rollout <args>` with `NOMAD_VAR_<name>` variables in its environment.
async fn rollout_with_env(a: &Agent, env: &[(&str, &str)], args: &[&str]) -> crate::cli::Out {
    let mut cmd = command(&a.client.base, args);
    for (name, value) in env {
        cmd.env(format!("NOMAD_VAR_{name}"), value);
    }
    output(cmd).await
}

#[tokio::test]
async fn nomad_var_environment_variables_set_jobspec_variables_below_var_files_and_var() {
    let a = Agent::dev_external().await;
    let (dir, file) = spec_dir();
    let var_file = format!("{}/prod.vars.hcl", dir.path().to_str().unwrap());
    let image =
        |job: &serde_json::Value| job["TaskGroups"][0]["Tasks"][0]["Config"]["image"].clone();

    // A variable without a default: refused without the environment, set by it.
    let required = dir.path().join("required.nomad.hcl");
    std::fs::write(
        &required,
        WEB.replace(
            "  type    = string\n  default = \"app:1\"\n",
            "  type = string\n",
        ),
    )
    .unwrap();
    let required = required.to_str().unwrap();
    let missing = rollout(&a, &["job", "validate", required]).await;
    assert_ne!(missing.code, 0, "{missing:?}");
    assert!(
        missing.stderr.contains("Missing required variable"),
        "{missing:?}"
    );
    let set = rollout_with_env(&a, &[("image", "app:env")], &["job", "validate", required]).await;
    assert_eq!(
        (set.code, set.stdout.as_str()),
        (0, "Job validation successful\n"),
        "{set:?}"
    );

    // The environment over the default; a mistyped value names where it came from.
    let run = rollout_with_env(
        &a,
        &[("image", "app:env"), ("count", "4"), ("not_declared", "x")],
        &["job", "run", "-detach", &file],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let job = a.job("web").await;
    assert_eq!(image(&job), "app:env");
    assert_eq!(job["TaskGroups"][0]["Count"], 4);
    a.converge().await;
    let bad = rollout_with_env(&a, &[("count", "many")], &["job", "plan", &file]).await;
    assert_eq!(bad.code, 255, "{bad:?}");
    assert!(
        bad.stderr.contains("<value for var.count from env>"),
        "{bad:?}"
    );

    // Planned with the same environment: no changes; with another: changes.
    let same = rollout_with_env(
        &a,
        &[("image", "app:env"), ("count", "4")],
        &["job", "plan", &file],
    )
    .await;
    assert_eq!(same.code, 0, "{same:?}");
    let other = rollout_with_env(
        &a,
        &[("image", "app:2"), ("count", "4")],
        &["job", "plan", &file],
    )
    .await;
    assert_eq!(other.code, 1, "{other:?}");

    // A var file (count = 3) over the environment, -var over both.
    let run = rollout_with_env(
        &a,
        &[("image", "app:env"), ("count", "4")],
        &[
            "job",
            "run",
            "-detach",
            "-var-file",
            &var_file,
            "-var",
            "image=app:flag",
            &file,
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let job = a.job("web").await;
    assert_eq!(image(&job), "app:flag");
    assert_eq!(job["TaskGroups"][0]["Count"], 3);
    a.stop().await;
}
