//! `NOMAD_VAR_<name>` environment variables set jobspec variables, as in Nomad's CLI:
//! defaults < environment < var files < `-var`.

use rollout_jobspec::{env_vars, parse, Options};
use std::ffi::OsString;

const SPEC: &str = r#"variable "image" {
  type    = string
  default = "app:default"
}

variable "count" {
  type = number
}

variable "dcs" {
  type    = list(string)
  default = ["dc1"]
}

job "web" {
  datacenters = var.dcs

  group "web" {
    count = var.count

    task "app" {
      driver = "docker"

      config {
        image = var.image
      }
    }
  }
}
"#;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn image_and_count(options: &Options) -> (String, i64) {
    let job = parse("web.nomad.hcl", SPEC, options).unwrap_or_else(|e| panic!("{e}"));
    let group = &job["TaskGroups"][0];
    (
        group["Tasks"][0]["Config"]["image"]
            .as_str()
            .unwrap()
            .to_owned(),
        group["Count"].as_i64().unwrap(),
    )
}

#[test]
fn an_environment_variable_sets_a_variable_without_default() {
    let options = Options {
        env: env(&[("count", "4")]),
        ..Options::default()
    };
    assert_eq!(image_and_count(&options), ("app:default".into(), 4));
}

#[test]
fn precedence_is_default_then_env_then_var_file_then_var() {
    let from_env = Options {
        env: env(&[("image", "app:env"), ("count", "1")]),
        ..Options::default()
    };
    assert_eq!(image_and_count(&from_env), ("app:env".into(), 1));

    let file_over_env = Options {
        var_files: vec![("prod.vars.hcl".into(), "image = \"app:file\"\n".into())],
        ..from_env.clone()
    };
    assert_eq!(image_and_count(&file_over_env), ("app:file".into(), 1));

    let var_over_all = Options {
        vars: vec![("image".into(), "app:flag".into())],
        ..file_over_env
    };
    assert_eq!(image_and_count(&var_over_all), ("app:flag".into(), 1));
}

#[test]
fn an_undeclared_environment_variable_is_ignored() {
    let options = Options {
        env: env(&[("count", "2"), ("imgae", "x"), ("other_jobs_var", "y")]),
        ..Options::default()
    };
    assert_eq!(image_and_count(&options), ("app:default".into(), 2));
}

#[test]
fn a_complex_value_from_the_environment_is_an_expression() {
    let options = Options {
        env: env(&[("count", "1"), ("dcs", r#"["dc2", "dc3"]"#)]),
        ..Options::default()
    };
    let job = parse("web.nomad.hcl", SPEC, &options).unwrap();
    assert_eq!(job["Datacenters"], serde_json::json!(["dc2", "dc3"]));
}

#[test]
fn a_mistyped_environment_value_names_the_variable_and_the_environment() {
    let options = Options {
        env: env(&[("count", "many")]),
        ..Options::default()
    };
    let e = parse("web.nomad.hcl", SPEC, &options)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(
            "<value for var.count from env>:1,1: Invalid value for variable; The value for count is not compatible with the variable's type constraint: "
        ),
        "{e}"
    );
    let bad_list = Options {
        env: env(&[("count", "1"), ("dcs", "[\"dc2\"")]),
        ..Options::default()
    };
    let e = parse("web.nomad.hcl", SPEC, &bad_list)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("<value for var.dcs from env>:1,"), "{e}");
}

#[test]
fn env_vars_takes_the_prefixed_names_only() {
    let environment = [
        ("NOMAD_VAR_image", "app:2"),
        ("NOMAD_ADDR", "http://x"),
        ("NOMAD_VAR_", "no name"),
        ("nomad_var_count", "lowercase prefix"),
    ]
    .map(|(k, v)| (OsString::from(k), OsString::from(v)));
    assert_eq!(env_vars(environment), env(&[("image", "app:2")]));
}
