//! # rollout-jobspec
//!
//! Nomad jobspecs as Nomad users write them — HCL2, with `variable` blocks, `-var` and
//! var files, `locals`, functions, `dynamic` blocks and heredocs — turned into the job
//! JSON of Nomad's HTTP API (PascalCase fields, durations in nanoseconds, block labels
//! as `ID`, `Name` or `Label`). JSON jobspecs (the API's `{"Job": …}` or a bare job) are
//! accepted as they are.
//!
//! Nomad's runtime interpolations (`${NOMAD_ALLOC_ID}`, `${attr.kernel.name}`,
//! `${node.unique.name}`, `${meta.rack}`, `${device.…}`) are left in the strings
//! literally: the client fills them in, not the parser.
//!
//! ```
//! let spec = r#"
//! variable "image" { default = "app:1" }
//! job "web" {
//!   group "web" {
//!     count = 2
//!     update {
//!       canary           = 1
//!       min_healthy_time = "5s"
//!     }
//!     task "app" {
//!       driver = "docker"
//!       config { image = var.image }
//!       env { ALLOC = "${NOMAD_ALLOC_ID}" }
//!     }
//!   }
//! }"#;
//! let options = rollout_jobspec::Options {
//!     vars: vec![("image".into(), "app:2".into())],
//!     ..Default::default()
//! };
//! let job = rollout_jobspec::parse("web.nomad.hcl", spec, &options).unwrap();
//! assert_eq!(job["ID"], "web");
//! let group = &job["TaskGroups"][0];
//! assert_eq!(group["Update"]["MinHealthyTime"], 5_000_000_000i64);
//! assert_eq!(group["Tasks"][0]["Config"]["image"], "app:2");
//! assert_eq!(group["Tasks"][0]["Env"]["ALLOC"], "${NOMAD_ALLOC_ID}");
//!
//! let err = rollout_jobspec::parse("web.nomad.hcl", "job \"web\" {\n  group \"g\" { cont = 1 }\n}", &Default::default())
//!     .unwrap_err();
//! assert_eq!(err.to_string(), "web.nomad.hcl:2,15: Unsupported argument; \
//!     An argument named \"cont\" is not expected here. Did you mean \"count\"?");
//! ```

mod decode;
mod duration;
mod error;
mod funcs;
pub mod schema;
mod types;

pub use duration::parse_duration;
pub use error::{Diagnostic, Error};
pub use types::Type;

use decode::{label_str, Decoder, Source};
use hcl::edit::expr::Expression as EditExpr;
use hcl::edit::structure::{Body as EditBody, Structure};
use hcl::edit::Span;
use hcl::eval::{Context, FuncArgs, FuncDef, ParamType};
use serde_json::Value;
use std::cell::RefCell;
use std::path::{Path, PathBuf};

/// Variable values and where relative paths start.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `-var name=value` pairs, in order (a later one wins). Values of variables whose
    /// type is a list, map, object or tuple are HCL expressions (`["a", "b"]`).
    pub vars: Vec<(String, String)>,
    /// Var files (`-var-file`), in order: (name for messages, content). HCL (`name =
    /// value` lines) or JSON (`{"name": value}`).
    pub var_files: Vec<(String, String)>,
    /// `NOMAD_VAR_<name>=<value>` environment variables as (name, value), the prefix
    /// removed (see [`env_vars`]). As in Nomad's CLI they come after the defaults and
    /// before var files and `-var`; a value is read as a `-var` value is, and one that
    /// names no declared variable is ignored (Nomad skips it: the environment may hold
    /// variables meant for other jobspecs).
    pub env: Vec<(String, String)>,
    /// The directory `file(…)` reads relative to; `None` disables `file`.
    pub base_dir: Option<PathBuf>,
}

/// The prefix of environment variables that set jobspec variables (Nomad's
/// `jobspec2.VarEnvPrefix`).
pub const VAR_ENV_PREFIX: &str = "NOMAD_VAR_";

/// The `NOMAD_VAR_<name>` variables of an environment, as [`Options::env`]: the prefix
/// removed, in the environment's order. Names or values that are not UTF-8 are skipped,
/// as is a bare `NOMAD_VAR_` (no name).
pub fn env_vars<I>(environment: I) -> Vec<(String, String)>
where
    I: IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
{
    environment
        .into_iter()
        .filter_map(|(k, v)| {
            let name = k.to_str()?.strip_prefix(VAR_ENV_PREFIX)?;
            if name.is_empty() {
                return None;
            }
            Some((name.to_owned(), v.into_string().ok()?))
        })
        .collect()
}

/// Whether a jobspec is JSON (the API's job) rather than HCL, by its content.
pub fn is_json(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// Parses an HCL2 jobspec into the API's job JSON (the object inside `{"Job": …}`).
pub fn parse(file: &str, text: &str, options: &Options) -> Result<Value, Error> {
    let (escaped, inserted) = escape_runtime_interpolations(text);
    let source = Source::new(file, text, inserted);
    let body = hcl::edit::parser::parse_body(&escaped).map_err(|e| {
        let loc = e.location();
        // The parser's location is in the escaped text; map its offset back.
        let (line, column) = source.locate(loc.offset());
        Error::one(Diagnostic {
            file: file.to_owned(),
            line,
            column,
            summary: "Invalid HCL syntax".into(),
            detail: e.message().to_owned(),
        })
    })?;
    BASE_DIR.with(|b| *b.borrow_mut() = options.base_dir.clone());
    let result = decode_file(&source, &body, options);
    BASE_DIR.with(|b| *b.borrow_mut() = None);
    result
}

/// Parses a var file on its own (as `POST /v1/jobs/parse`'s `Variables` carries one),
/// for use as [`Options::var_files`]; only reports syntax errors.
pub fn check_var_file(name: &str, text: &str) -> Result<(), Error> {
    if is_json(text) {
        return serde_json::from_str::<serde_json::Map<String, Value>>(text)
            .map(|_| ())
            .map_err(|e| {
                Error::one(Diagnostic {
                    file: name.into(),
                    line: e.line(),
                    column: e.column(),
                    summary: "Invalid JSON".into(),
                    detail: e.to_string(),
                })
            });
    }
    hcl::edit::parser::parse_body(text)
        .map(|_| ())
        .map_err(|e| {
            Error::one(Diagnostic {
                file: name.into(),
                line: e.location().line(),
                column: e.location().column(),
                summary: "Invalid HCL syntax".into(),
                detail: e.message().to_owned(),
            })
        })
}

thread_local! {
    static BASE_DIR: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
}

/// `file(path)`: the content of a file relative to the jobspec.
fn file_func(args: FuncArgs) -> Result<hcl::Value, String> {
    let path = args[0].as_str().ok_or("file needs a path")?.to_owned();
    let base = BASE_DIR
        .with(|b| b.borrow().clone())
        .ok_or("file() is only available when the jobspec is read from a file")?;
    let full = if Path::new(&path).is_absolute() {
        PathBuf::from(&path)
    } else {
        base.join(&path)
    };
    std::fs::read_to_string(&full)
        .map(hcl::Value::from)
        .map_err(|e| format!("cannot read {path:?}: {e}"))
}

/// The names whose `${…}` interpolations Nomad's clients fill in at run time.
const RUNTIME_PREFIXES: &[&str] = &[
    "NOMAD_", "attr.", "attr[", "node.", "meta.", "meta[", "device.", "env.", "env[",
];

/// Escapes `${NOMAD_…}` and friends as `$${…}` (HCL's literal `${`), so that they stay
/// in the strings as written. Returns the escaped text and where each `$` was inserted.
fn escape_runtime_interpolations(text: &str) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(text.len());
    let mut inserted = Vec::new();
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        if c == '$' && bytes.get(i + 1) == Some(&b'{') && (i == 0 || bytes[i - 1] != b'$') {
            let after = text[i + 2..].trim_start();
            if RUNTIME_PREFIXES.iter().any(|p| after.starts_with(p)) {
                inserted.push(out.len());
                out.push('$');
            }
        }
        out.push(c);
    }
    (out, inserted)
}

/// A context with the functions and nothing else (defaults, var files).
fn base_context() -> Context<'static> {
    let mut ctx = Context::new();
    funcs::declare_all(&mut ctx);
    ctx.declare_func(
        "file",
        FuncDef::builder().param(ParamType::String).build(file_func),
    );
    ctx
}

struct Variable {
    name: String,
    ty: Type,
    default: Option<hcl::Value>,
    validations: Vec<(EditExpr, Option<EditExpr>)>,
    span: Option<std::ops::Range<usize>>,
}

fn decode_file(source: &Source, body: &EditBody, options: &Options) -> Result<Value, Error> {
    let mut d = Decoder::new(source);
    let base = base_context();
    let mut variables: Vec<Variable> = Vec::new();
    let mut locals = Vec::new();
    let mut jobs = Vec::new();
    for s in body.iter() {
        match s {
            Structure::Block(b) => match b.ident.as_str() {
                "job" => jobs.push(b),
                "locals" => locals.extend(b.body.iter().filter_map(|s| match s {
                    Structure::Attribute(a) => Some(a),
                    Structure::Block(inner) => {
                        d.error(
                            inner.ident.span(),
                            "Unsupported block type",
                            "A locals block holds only arguments.".into(),
                        );
                        None
                    }
                })),
                "variable" => {
                    if let Some(v) = variable(&mut d, b, &base) {
                        if variables.iter().any(|o| o.name == v.name) {
                            d.error(
                                b.ident.span(),
                                "Duplicate variable declaration",
                                format!("A variable named \"{}\" was already declared.", v.name),
                            );
                        } else {
                            variables.push(v);
                        }
                    }
                }
                other => d.error(
                    b.ident.span(),
                    "Unsupported block type",
                    format!(
                        "Blocks of type \"{other}\" are not expected here.{}",
                        error::did_you_mean(other, ["job", "variable", "locals"])
                    ),
                ),
            },
            Structure::Attribute(a) => d.error(
                a.key.span(),
                "Unsupported argument",
                format!(
                    "An argument named \"{}\" is not expected here: a jobspec holds job, variable and locals blocks.",
                    a.key.as_str()
                ),
            ),
        }
    }
    let values = variable_values(&mut d, &variables, options, &base);
    let mut ctx = base.clone();
    ctx.declare_var("var", hcl::Value::Object(values.clone()));
    validate_variables(&mut d, &variables, &ctx);
    evaluate_locals(&mut d, &locals, &mut ctx);

    let job = match jobs.as_slice() {
        [job] => {
            let labels: Vec<String> = job.labels.iter().map(|l| label_str(l).to_owned()).collect();
            let mut out = d.block(&schema::JOB, &labels, job.ident.span(), &job.body, &ctx);
            if let Some(id) = out.get("ID").cloned() {
                out.entry("Name").or_insert(id);
            }
            Some(Value::Object(out))
        }
        [] => {
            d.error(
                None,
                "Missing job block",
                "A jobspec must hold one job block.".into(),
            );
            None
        }
        [_, second, ..] => {
            d.error(
                second.ident.span(),
                "Duplicate job block",
                "A jobspec holds only one job block.".into(),
            );
            None
        }
    };
    match job {
        Some(job) if d.errors.is_empty() => Ok(job),
        _ => Err(Error {
            diagnostics: d.errors,
        }),
    }
}

fn variable(d: &mut Decoder, b: &hcl::edit::structure::Block, base: &Context) -> Option<Variable> {
    let [label] = b.labels.as_slice() else {
        d.error(
            b.ident.span(),
            "Missing name for variable",
            "All variable blocks must have 1 labels (name).".into(),
        );
        return None;
    };
    let mut v = Variable {
        name: label_str(label).to_owned(),
        ty: Type::Any,
        default: None,
        validations: Vec::new(),
        span: b.ident.span(),
    };
    for s in b.body.iter() {
        match s {
            Structure::Attribute(a) => match a.key.as_str() {
                "type" => match Type::from_expr(&a.value) {
                    Ok(t) => v.ty = t,
                    Err(e) => d.error(a.value.span(), "Invalid type specification", e),
                },
                "default" => v.default = d.eval(&a.value, base, "default"),
                "description" | "sensitive" | "nullable" => {}
                other => d.error(
                    a.key.span(),
                    "Unsupported argument",
                    format!(
                        "An argument named \"{other}\" is not expected here.{}",
                        error::did_you_mean(
                            other,
                            ["type", "default", "description", "sensitive", "nullable"]
                        )
                    ),
                ),
            },
            Structure::Block(inner) if inner.ident.as_str() == "validation" => {
                let mut condition = None;
                let mut message = None;
                for s in inner.body.iter() {
                    if let Structure::Attribute(a) = s {
                        match a.key.as_str() {
                            "condition" => condition = Some(a.value.clone()),
                            "error_message" => message = Some(a.value.clone()),
                            other => d.error(
                                a.key.span(),
                                "Unsupported argument",
                                format!("An argument named \"{other}\" is not expected in a validation block."),
                            ),
                        }
                    }
                }
                match condition {
                    Some(c) => v.validations.push((c, message)),
                    None => d.error(
                        inner.ident.span(),
                        "Missing required argument",
                        "The argument \"condition\" is required in a validation block.".into(),
                    ),
                }
            }
            Structure::Block(inner) => d.error(
                inner.ident.span(),
                "Unsupported block type",
                format!(
                    "Blocks of type \"{}\" are not expected here.{}",
                    inner.ident.as_str(),
                    error::did_you_mean(inner.ident.as_str(), ["validation"])
                ),
            ),
        }
    }
    if let Some(default) = v.default.take() {
        match v.ty.convert(default) {
            Ok(c) => v.default = Some(c),
            Err(e) => d.error(
                v.span.clone(),
                "Invalid default value for variable",
                format!("This default value is not compatible with the variable's type constraint: {e}."),
            ),
        }
    }
    Some(v)
}

/// Defaults, then `NOMAD_VAR_` environment variables, then var files, then `-var`: the
/// value of every declared variable (Nomad's order, a later one winning).
fn variable_values(
    d: &mut Decoder,
    variables: &[Variable],
    options: &Options,
    base: &Context,
) -> hcl::Map<String, hcl::Value> {
    let mut values: hcl::Map<String, Option<hcl::Value>> = variables
        .iter()
        .map(|v| (v.name.clone(), v.default.clone()))
        .collect();
    let names = || variables.iter().map(|v| v.name.as_str());
    let find = |name: &str| variables.iter().find(|v| v.name == name);

    for (name, raw) in &options.env {
        let Some(var) = find(name) else {
            continue;
        };
        if let Some(v) = env_value(d, var, raw, base) {
            values.insert(name.clone(), Some(v));
        }
    }
    for (file, text) in &options.var_files {
        for (name, value, line, column) in var_file_values(d, file, text, base) {
            let Some(var) = find(&name) else {
                d.errors.push(Diagnostic {
                    file: file.clone(),
                    line,
                    column,
                    summary: "Undefined variable".into(),
                    detail: format!(
                        "A variable named \"{name}\" was assigned, but the jobspec declares no such variable.{}",
                        error::did_you_mean(&name, names())
                    ),
                });
                continue;
            };
            match var.ty.convert(value) {
                Ok(v) => {
                    values.insert(name, Some(v));
                }
                Err(e) => d.errors.push(Diagnostic {
                    file: file.clone(),
                    line,
                    column,
                    summary: "Invalid value for variable".into(),
                    detail: format!("variable \"{name}\": {e}."),
                }),
            }
        }
    }
    for (name, raw) in &options.vars {
        let Some(var) = find(name) else {
            d.errors.push(Diagnostic {
                file: "-var".into(),
                line: 0,
                column: 0,
                summary: "Undefined -var variable".into(),
                detail: format!(
                    "A \"{name}\" variable was passed in, but the jobspec declares no such variable.{}",
                    error::did_you_mean(name, names())
                ),
            });
            continue;
        };
        let value = if var.ty.is_complex() {
            match hcl::edit::parser::parse_expr(raw) {
                Ok(e) => match d.eval(&e, base, &format!("-var {name}")) {
                    Some(v) => v,
                    None => continue,
                },
                Err(e) => {
                    d.errors.push(Diagnostic {
                        file: "-var".into(),
                        line: 0,
                        column: 0,
                        summary: "Invalid value for variable".into(),
                        detail: format!("variable \"{name}\": {}", e.message()),
                    });
                    continue;
                }
            }
        } else {
            hcl::Value::String(raw.clone())
        };
        match var.ty.convert(value) {
            Ok(v) => {
                values.insert(name.clone(), Some(v));
            }
            Err(e) => d.errors.push(Diagnostic {
                file: "-var".into(),
                line: 0,
                column: 0,
                summary: "Invalid value for variable".into(),
                detail: format!("variable \"{name}\": {e}."),
            }),
        }
    }
    let mut out = hcl::Map::new();
    for v in variables {
        match values.shift_remove(&v.name).flatten() {
            Some(value) => {
                out.insert(v.name.clone(), value);
            }
            None => d.error(
                v.span.clone(),
                "Missing required variable",
                format!(
                    "The variable \"{}\" has no default: set it with -var {}=… or in a -var-file.",
                    v.name, v.name
                ),
            ),
        }
    }
    out
}

/// The value of `NOMAD_VAR_<name>`, read as Nomad reads it: an HCL expression for a
/// list, map, object or tuple variable, the text itself otherwise; then converted to the
/// variable's type. Errors are named against `<value for var.NAME from env>`, Nomad's
/// name for that text.
fn env_value(d: &mut Decoder, var: &Variable, raw: &str, base: &Context) -> Option<hcl::Value> {
    let file = format!("<value for var.{} from env>", var.name);
    let mut bad = |line, column, summary: &str, detail: String| {
        d.errors.push(Diagnostic {
            file: file.clone(),
            line,
            column,
            summary: summary.into(),
            detail,
        });
        None
    };
    let value = if var.ty.is_complex() {
        let expr = match hcl::edit::parser::parse_expr(raw) {
            Ok(e) => e,
            Err(e) => {
                let loc = e.location();
                return bad(
                    loc.line(),
                    loc.column(),
                    "Invalid expression",
                    e.message().to_owned(),
                );
            }
        };
        let expr: hcl::Expression = expr.into();
        match hcl::eval::Evaluate::evaluate(&expr, base) {
            Ok(v) => v,
            Err(e) => return bad(1, 1, "Invalid expression", e.kind().to_string()),
        }
    } else {
        hcl::Value::String(raw.to_owned())
    };
    match var.ty.convert(value) {
        Ok(v) => Some(v),
        Err(e) => bad(
            1,
            1,
            "Invalid value for variable",
            format!(
                "The value for {} is not compatible with the variable's type constraint: {e}.",
                var.name
            ),
        ),
    }
}

/// (name, value, line, column) of each assignment of a var file.
fn var_file_values(
    d: &mut Decoder,
    file: &str,
    text: &str,
    base: &Context,
) -> Vec<(String, hcl::Value, usize, usize)> {
    let mut bad = |line, column, summary: &str, detail: String| {
        d.errors.push(Diagnostic {
            file: file.into(),
            line,
            column,
            summary: summary.into(),
            detail,
        })
    };
    if is_json(text) {
        return match serde_json::from_str::<serde_json::Map<String, Value>>(text) {
            Ok(m) => m
                .into_iter()
                .filter_map(|(k, v)| hcl::to_value(v).ok().map(|v| (k, v, 0, 0)))
                .collect(),
            Err(e) => {
                bad(e.line(), e.column(), "Invalid JSON", e.to_string());
                Vec::new()
            }
        };
    }
    let body = match hcl::edit::parser::parse_body(text) {
        Ok(b) => b,
        Err(e) => {
            bad(
                e.location().line(),
                e.location().column(),
                "Invalid HCL syntax",
                e.message().to_owned(),
            );
            return Vec::new();
        }
    };
    let lines = error::Lines::new(text);
    let mut out = Vec::new();
    for s in body.iter() {
        let start = s.span().map_or(0, |r| r.start);
        let (line, column) = lines.locate(text, start);
        match s {
            Structure::Attribute(a) => {
                let e: hcl::Expression = a.value.clone().into();
                match hcl::eval::Evaluate::evaluate(&e, base) {
                    Ok(v) => out.push((a.key.as_str().to_owned(), v, line, column)),
                    Err(err) => bad(line, column, "Invalid expression", err.kind().to_string()),
                }
            }
            Structure::Block(b) => bad(
                line,
                column,
                "Unexpected block",
                format!(
                    "A var file assigns variables (name = value); a \"{}\" block is not expected.",
                    b.ident.as_str()
                ),
            ),
        }
    }
    out
}

fn validate_variables(d: &mut Decoder, variables: &[Variable], ctx: &Context) {
    for v in variables {
        for (condition, message) in &v.validations {
            let Some(ok) = d.eval(condition, ctx, "validation condition") else {
                continue;
            };
            if ok == hcl::Value::Bool(true) {
                continue;
            }
            let detail = match message
                .as_ref()
                .and_then(|m| d.eval(m, ctx, "error_message"))
            {
                Some(hcl::Value::String(s)) => s,
                _ => "The value does not meet the variable's validation condition.".into(),
            };
            d.error(
                condition.span(),
                &format!("Invalid value for variable \"{}\"", v.name),
                detail,
            );
        }
    }
}

/// `locals` may refer to each other in any order: evaluate what can be until nothing
/// more can, then report what is left.
fn evaluate_locals(
    d: &mut Decoder,
    locals: &[&hcl::edit::structure::Attribute],
    ctx: &mut Context,
) {
    let mut values = hcl::Map::new();
    let mut pending: Vec<&hcl::edit::structure::Attribute> = locals.to_vec();
    loop {
        ctx.declare_var("local", hcl::Value::Object(values.clone()));
        let mut progress = false;
        let mut still = Vec::new();
        for a in pending {
            let e: hcl::Expression = a.value.clone().into();
            match hcl::eval::Evaluate::evaluate(&e, ctx) {
                Ok(v) => {
                    values.insert(a.key.as_str().to_owned(), v);
                    progress = true;
                }
                Err(_) => still.push(a),
            }
        }
        pending = still;
        if pending.is_empty() || !progress {
            break;
        }
    }
    ctx.declare_var("local", hcl::Value::Object(values));
    for a in pending {
        d.eval(&a.value, ctx, &format!("local.{}", a.key.as_str()));
    }
}

/// The value of a JSON jobspec: the job object, whether the file is the API's register
/// body (`{"Job": …}`) or the job alone.
pub fn json_job(text: &str) -> Result<Value, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let Value::Object(mut top) = value else {
        return Err("a JSON jobspec must be an object".into());
    };
    let key = top
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("job") && v.is_object())
        .map(|(k, _)| k.clone());
    Ok(match key.and_then(|k| top.remove(&k)) {
        Some(job) => job,
        None => Value::Object(top),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_interpolations_are_escaped_and_positions_map_back() {
        let (out, ins) =
            escape_runtime_interpolations(r#"a = "${NOMAD_ALLOC_ID}-${var.x}-$${attr.y}""#);
        assert_eq!(out, r#"a = "$${NOMAD_ALLOC_ID}-${var.x}-$${attr.y}""#);
        assert_eq!(ins, vec![5]);
    }
}
