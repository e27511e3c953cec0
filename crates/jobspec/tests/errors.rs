//! Bad jobspecs: each error names the file, line and column, the block or argument, and
//! suggests the likely name.

use rollout_jobspec::{parse, Options};

fn error(text: &str, options: &Options) -> String {
    match parse("web.nomad.hcl", text, options) {
        Ok(job) => panic!("parsed: {job}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn an_unknown_argument_is_named_with_its_position_and_the_likely_name() {
    let text = "job \"web\" {\n  group \"web\" {\n    cont = 2\n  }\n}\n";
    assert_eq!(
        error(text, &Options::default()),
        "web.nomad.hcl:3,5: Unsupported argument; An argument named \"cont\" is not expected here. Did you mean \"count\"?"
    );
}

#[test]
fn errors_name_blocks_values_labels_variables_and_syntax() {
    let cases = [
        "job \"web\" {\n  gruop \"web\" {}\n}\n",
        "job \"web\" {\n  group \"web\" {\n    count = \"many\"\n  }\n}\n",
        "job \"web\" {\n  update {\n    min_healthy_time = \"10 seconds\"\n  }\n}\n",
        "job \"web\" {\n  group {}\n}\n",
        "job \"web\" {\n  update {}\n  update {}\n}\n",
        "job \"web\" {\n  group \"g\" {\n    task \"t\" {\n      driver = var.drvier\n    }\n  }\n}\n",
        "variable \"n\" {\n  type = number\n  validation {\n    condition     = var.n < 3\n    error_message = \"n must be below 3.\"\n  }\n}\njob \"web\" {\n  group \"g\" { count = var.n }\n}\n",
        "variable \"image\" {}\njob \"web\" {}\n",
        "job \"web\" {\n  group \"g\" {\n    count = 1 meta { a = 1 }\n  }\n}\n",
        "job \"web\" {\n  datacenters = [\"dc1\"\n}\n",
        "jbo \"web\" {}\n",
        "job \"web\" {\n  meta = upper(1, 2)\n}\n",
    ];
    let options = Options {
        vars: vec![("n".into(), "5".into())],
        ..Options::default()
    };
    let out: Vec<String> = cases
        .iter()
        .map(|c| {
            let with_n = if c.contains("var.n") {
                &options
            } else {
                &Options::default()
            };
            error(c, with_n)
        })
        .collect();
    insta::assert_snapshot!(out.join("\n\n"));
}

#[test]
fn undeclared_and_mistyped_variables_are_refused() {
    let text = "variable \"count\" {\n  type = number\n}\njob \"web\" {}\n";
    let options = Options {
        vars: vec![("cuont".into(), "1".into()), ("count".into(), "x".into())],
        var_files: vec![("prod.vars.hcl".into(), "\ncount = true\n".into())],
        ..Options::default()
    };
    insta::assert_snapshot!(error(text, &options));
}

#[test]
fn bad_input_never_panics() {
    for text in [
        "",
        "{",
        "job",
        "job \"a\" { group \"b\" { task \"c\" { config = 1 } } }",
        "\u{0}",
        "job \"a\" { dynamic \"group\" { for_each = 3 content {} } }",
        "job \"${\" {}",
    ] {
        let _ = parse("x.hcl", text, &Options::default());
    }
}
