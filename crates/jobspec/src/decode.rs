//! Walking a parsed body against the schema: every argument evaluated and converted,
//! every block placed, `dynamic` blocks expanded, and a diagnostic with a position for
//! everything that does not fit.

use crate::duration::parse_duration;
use crate::error::{did_you_mean, Diagnostic, Lines};
use crate::schema::{Body, Child, Kind, Shape, Spec};
use hcl::edit::expr::Expression as EditExpr;
use hcl::edit::structure::{Attribute, Block, BlockLabel, Body as EditBody, Structure};
use hcl::edit::Span;
use hcl::eval::{Context, Evaluate};
use serde_json::{Map, Value};
use std::ops::Range;

/// The source a body came from: its name, its text, and the offsets that escaping
/// runtime interpolations shifted.
pub struct Source<'s> {
    pub file: &'s str,
    pub original: &'s str,
    lines: Lines,
    /// Offsets in the escaped text where a `$` was inserted, ascending.
    inserted: Vec<usize>,
}

impl<'s> Source<'s> {
    pub fn new(file: &'s str, original: &'s str, inserted: Vec<usize>) -> Source<'s> {
        Source {
            file,
            original,
            lines: Lines::new(original),
            inserted,
        }
    }

    /// The original offset of an offset in the escaped text.
    fn original_offset(&self, escaped: usize) -> usize {
        escaped - self.inserted.partition_point(|&i| i < escaped)
    }

    /// (line, column) in the original text of an offset in the escaped text.
    pub fn locate(&self, escaped: usize) -> (usize, usize) {
        self.lines
            .locate(self.original, self.original_offset(escaped))
    }

    pub fn diagnostic(
        &self,
        span: Option<Range<usize>>,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) -> Diagnostic {
        let (line, column) = span.map_or((0, 0), |s| self.locate(s.start));
        Diagnostic {
            file: self.file.to_owned(),
            line,
            column,
            summary: summary.into(),
            detail: detail.into(),
        }
    }
}

/// Decodes blocks of one source, collecting diagnostics.
pub struct Decoder<'s> {
    pub source: &'s Source<'s>,
    pub errors: Vec<Diagnostic>,
}

/// An HCL value as JSON.
pub fn to_json(v: hcl::Value) -> Value {
    match v {
        hcl::Value::Null => Value::Null,
        hcl::Value::Bool(b) => Value::Bool(b),
        hcl::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        hcl::Value::String(s) => Value::String(s),
        hcl::Value::Array(a) => Value::Array(a.into_iter().map(to_json).collect()),
        hcl::Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, v)| (k, to_json(v))).collect())
        }
    }
}

pub fn label_str(l: &BlockLabel) -> &str {
    match l {
        BlockLabel::Ident(i) => i.as_str(),
        BlockLabel::String(s) => s.as_str(),
    }
}

impl<'s> Decoder<'s> {
    pub fn new(source: &'s Source<'s>) -> Decoder<'s> {
        Decoder {
            source,
            errors: Vec::new(),
        }
    }

    pub fn error(&mut self, span: Option<Range<usize>>, summary: &str, detail: String) {
        let d = self.source.diagnostic(span, summary, detail);
        self.errors.push(d);
    }

    /// Evaluates an expression.
    pub fn eval(&mut self, expr: &EditExpr, ctx: &Context, what: &str) -> Option<hcl::Value> {
        let e: hcl::Expression = expr.clone().into();
        match e.evaluate(ctx) {
            Ok(v) => Some(v),
            Err(err) => {
                let detail = format!("{what}: {}", err.kind());
                self.error(expr.span(), "Invalid expression", detail);
                None
            }
        }
    }

    fn eval_attr(&mut self, attr: &Attribute, ctx: &Context) -> Option<Value> {
        let what = format!("argument \"{}\"", attr.key.as_str());
        self.eval(&attr.value, ctx, &what).map(to_json)
    }

    /// Decodes a block of type `spec` with the given labels and body.
    pub fn block(
        &mut self,
        spec: &Spec,
        labels: &[String],
        ident_span: Option<Range<usize>>,
        body: &EditBody,
        ctx: &Context,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        match (spec.label, labels) {
            (Some(field), [label]) => {
                out.insert(field.to_owned(), Value::String(label.clone()));
            }
            (None, []) => {}
            (Some(_), []) if spec.name == "identity" => {}
            (Some(field), []) => self.error(
                ident_span.clone(),
                &format!("Missing name for {}", spec.name),
                format!(
                    "All {} blocks must have 1 labels ({}).",
                    spec.name,
                    field.to_lowercase()
                ),
            ),
            (_, _) => {
                let expected = if spec.label.is_some() {
                    "Only 1 label is"
                } else {
                    "No labels are"
                };
                self.error(
                    ident_span.clone(),
                    &format!("Extraneous label for {}", spec.name),
                    format!("{expected} expected for {} blocks.", spec.name),
                )
            }
        }
        match spec.body {
            Body::Schema => self.schema_body(spec, body, ctx, &mut out),
            Body::Free => self.free_body(body, ctx, &mut out),
            Body::StrMap => self.map_body(spec, body, ctx, &mut out, Kind::Str),
            Body::ListMap => self.map_body(spec, body, ctx, &mut out, Kind::StrList),
            Body::Generic => self.generic_body(body, ctx, &mut out),
        }
        if let Some(post) = spec.post {
            post(&mut out);
        }
        out
    }

    fn schema_body(
        &mut self,
        spec: &Spec,
        body: &EditBody,
        ctx: &Context,
        out: &mut Map<String, Value>,
    ) {
        let mut seen_attrs: Vec<&str> = Vec::new();
        for s in body.iter() {
            match s {
                Structure::Attribute(attr) => {
                    let name = attr.key.as_str();
                    let Some(&(_, json, kind)) = spec.attrs.iter().find(|a| a.0 == name) else {
                        let hint = did_you_mean(name, spec.attrs.iter().map(|a| a.0));
                        let block_hint = if spec.blocks.iter().any(|b| b.hcl == name) {
                            format!(" Did you mean to define a block of type \"{name}\"?")
                        } else {
                            hint
                        };
                        self.error(
                            attr.key.span(),
                            "Unsupported argument",
                            format!(
                                "An argument named \"{name}\" is not expected here.{block_hint}"
                            ),
                        );
                        continue;
                    };
                    if seen_attrs.contains(&name) {
                        self.error(
                            attr.key.span(),
                            "Attribute redefined",
                            format!("The argument \"{name}\" was already set."),
                        );
                        continue;
                    }
                    seen_attrs.push(name);
                    if let Some(v) = self.eval_attr(attr, ctx) {
                        if v.is_null() {
                            continue;
                        }
                        match convert(kind, v) {
                            Ok(v) => {
                                out.insert(json.to_owned(), v);
                            }
                            Err(e) => self.error(
                                attr.value.span(),
                                "Incorrect attribute value type",
                                format!("Inappropriate value for attribute \"{name}\": {e}."),
                            ),
                        }
                    }
                }
                Structure::Block(block) => self.child_block(spec, block, ctx, out),
            }
        }
    }

    /// A nested block (or a `dynamic` block generating some) of a schema body.
    fn child_block(
        &mut self,
        spec: &Spec,
        block: &Block,
        ctx: &Context,
        out: &mut Map<String, Value>,
    ) {
        let name = block.ident.as_str();
        if name == "dynamic" {
            self.dynamic(spec, block, ctx, out);
            return;
        }
        let Some(child) = spec.blocks.iter().find(|c| c.hcl == name) else {
            let attr_hint = if spec.attrs.iter().any(|a| a.0 == name) {
                format!(" Did you mean to define argument \"{name}\"? If so, use the equals sign to assign it a value.")
            } else {
                did_you_mean(name, spec.blocks.iter().map(|c| c.hcl))
            };
            self.error(
                block.ident.span(),
                "Unsupported block type",
                format!("Blocks of type \"{name}\" are not expected here.{attr_hint}"),
            );
            return;
        };
        let labels: Vec<String> = block
            .labels
            .iter()
            .map(|l| label_str(l).to_owned())
            .collect();
        self.place(child, &labels, block.ident.span(), &block.body, ctx, out);
    }

    fn place(
        &mut self,
        child: &Child,
        labels: &[String],
        span: Option<Range<usize>>,
        body: &EditBody,
        ctx: &Context,
        out: &mut Map<String, Value>,
    ) {
        let decoded = Value::Object(self.block(child.spec, labels, span.clone(), body, ctx));
        match child.shape {
            Shape::One => {
                if out.contains_key(child.json) {
                    self.error(
                        span,
                        &format!("Duplicate {} block", child.hcl),
                        format!("Only one block of type \"{}\" is allowed here.", child.hcl),
                    );
                } else {
                    out.insert(child.json.to_owned(), decoded);
                }
            }
            Shape::List => push(out, child.json, decoded),
            Shape::ByLabel => {
                let key = labels.first().cloned().unwrap_or_default();
                let map = out
                    .entry(child.json)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = map {
                    if m.contains_key(&key) {
                        self.error(
                            span,
                            &format!("Duplicate {} block", child.hcl),
                            format!("A {} named \"{key}\" was already defined.", child.hcl),
                        );
                    } else {
                        m.insert(key, decoded);
                    }
                }
            }
            Shape::LabelSplit { labeled } => {
                if labels.is_empty() {
                    out.insert(child.json.to_owned(), decoded);
                } else {
                    push(out, labeled, decoded);
                }
            }
        }
    }

    /// `dynamic "port" { for_each = …; iterator = p; labels = […]; content { … } }`.
    fn dynamic(&mut self, spec: &Spec, block: &Block, ctx: &Context, out: &mut Map<String, Value>) {
        let span = block.ident.span();
        let [label] = block.labels.as_slice() else {
            self.error(
                span,
                "Missing name for dynamic",
                "A dynamic block needs one label: the type of the blocks it generates.".into(),
            );
            return;
        };
        let kind = label_str(label).to_owned();
        let Some(child) = spec.blocks.iter().find(|c| c.hcl == kind) else {
            self.error(
                label_span(label),
                "Unsupported block type",
                format!(
                    "Blocks of type \"{kind}\" are not expected here.{}",
                    did_you_mean(&kind, spec.blocks.iter().map(|c| c.hcl))
                ),
            );
            return;
        };
        let (mut for_each, mut iterator, mut label_expr, mut content) =
            (None, kind.clone(), None, None);
        for s in block.body.iter() {
            match s {
                Structure::Attribute(a) => match a.key.as_str() {
                    "for_each" => for_each = Some(&a.value),
                    "labels" => label_expr = Some(&a.value),
                    "iterator" => match &a.value {
                        EditExpr::Variable(v) => iterator = v.as_str().to_owned(),
                        other => self.error(
                            other.span(),
                            "Invalid dynamic iterator name",
                            "The iterator must be a bare name.".into(),
                        ),
                    },
                    other => self.error(
                        a.key.span(),
                        "Unsupported argument",
                        format!(
                            "An argument named \"{other}\" is not expected here.{}",
                            did_you_mean(other, ["for_each", "labels", "iterator"])
                        ),
                    ),
                },
                Structure::Block(b) if b.ident.as_str() == "content" => content = Some(b),
                Structure::Block(b) => self.error(
                    b.ident.span(),
                    "Unsupported block type",
                    format!(
                        "Blocks of type \"{}\" are not expected here. Did you mean \"content\"?",
                        b.ident.as_str()
                    ),
                ),
            }
        }
        let (Some(for_each), Some(content)) = (for_each, content) else {
            self.error(
                span,
                "Incomplete dynamic block",
                "A dynamic block needs a for_each argument and a content block.".into(),
            );
            return;
        };
        let Some(collection) = self.eval(for_each, ctx, "for_each") else {
            return;
        };
        let items: Vec<(hcl::Value, hcl::Value)> = match collection {
            hcl::Value::Array(a) => a
                .into_iter()
                .enumerate()
                .map(|(i, v)| (hcl::Value::from(i as u64), v))
                .collect(),
            hcl::Value::Object(o) => o
                .into_iter()
                .map(|(k, v)| (hcl::Value::from(k), v))
                .collect(),
            hcl::Value::Null => Vec::new(),
            other => {
                self.error(
                    for_each.span(),
                    "Invalid dynamic for_each value",
                    format!(
                        "Cannot use a {} value in for_each. An iterable collection is required.",
                        kind_of(&other)
                    ),
                );
                return;
            }
        };
        for (key, value) in items {
            let mut inner = ctx.clone();
            let mut it = hcl::Map::new();
            it.insert("key".to_owned(), key);
            it.insert("value".to_owned(), value);
            inner.declare_var(iterator.as_str(), hcl::Value::Object(it));
            let labels: Vec<String> = match label_expr {
                None => Vec::new(),
                Some(e) => match self.eval(e, &inner, "labels").map(to_json) {
                    Some(Value::Array(l)) => l
                        .into_iter()
                        .map(|v| match v {
                            Value::String(s) => s,
                            other => other.to_string(),
                        })
                        .collect(),
                    Some(_) => {
                        self.error(
                            e.span(),
                            "Invalid dynamic labels",
                            "labels must be a list of strings.".into(),
                        );
                        continue;
                    }
                    None => continue,
                },
            };
            self.place(
                child,
                &labels,
                content.ident.span(),
                &content.body,
                &inner,
                out,
            );
        }
    }

    fn free_body(&mut self, body: &EditBody, ctx: &Context, out: &mut Map<String, Value>) {
        for s in body.iter() {
            match s {
                Structure::Attribute(attr) => {
                    if let Some(v) = self.eval_attr(attr, ctx) {
                        out.insert(attr.key.as_str().to_owned(), v);
                    }
                }
                Structure::Block(b) => {
                    let mut inner = Map::new();
                    self.free_body(&b.body, ctx, &mut inner);
                    let mut v = Value::Object(inner);
                    for l in b.labels.iter().rev() {
                        let mut m = Map::new();
                        m.insert(label_str(l).to_owned(), v);
                        v = Value::Object(m);
                    }
                    push(out, b.ident.as_str(), v);
                }
            }
        }
    }

    fn map_body(
        &mut self,
        spec: &Spec,
        body: &EditBody,
        ctx: &Context,
        out: &mut Map<String, Value>,
        kind: Kind,
    ) {
        for s in body.iter() {
            match s {
                Structure::Attribute(attr) => {
                    let Some(v) = self.eval_attr(attr, ctx) else {
                        continue;
                    };
                    match convert(kind, v) {
                        Ok(v) => {
                            out.insert(attr.key.as_str().to_owned(), v);
                        }
                        Err(e) => self.error(
                            attr.value.span(),
                            "Incorrect attribute value type",
                            format!(
                                "Inappropriate value for \"{}\" in {}: {e}.",
                                attr.key.as_str(),
                                spec.name
                            ),
                        ),
                    }
                }
                Structure::Block(b) => self.error(
                    b.ident.span(),
                    "Unsupported block type",
                    format!(
                        "Blocks of type \"{}\" are not expected in {}: it holds only arguments.",
                        b.ident.as_str(),
                        spec.name
                    ),
                ),
            }
        }
    }

    /// `connect` and its gateways and proxies: names become PascalCase, plural block
    /// names (`upstreams`) and `path` lists; no validation.
    fn generic_body(&mut self, body: &EditBody, ctx: &Context, out: &mut Map<String, Value>) {
        for s in body.iter() {
            match s {
                Structure::Attribute(attr) => {
                    let Some(v) = self.eval_attr(attr, ctx) else {
                        continue;
                    };
                    let name = attr.key.as_str();
                    let v = if name.ends_with("timeout") || name.ends_with("_interval") {
                        match &v {
                            Value::String(s) => parse_duration(s).map(Value::from).unwrap_or(v),
                            _ => v,
                        }
                    } else {
                        v
                    };
                    out.insert(pascal(name), v);
                }
                Structure::Block(b) => {
                    let name = b.ident.as_str();
                    let mut inner = Map::new();
                    if name == "config" || name == "meta" {
                        self.free_body(&b.body, ctx, &mut inner);
                        out.insert(pascal(name), Value::Object(inner));
                        continue;
                    }
                    self.generic_body(&b.body, ctx, &mut inner);
                    let list_key = match name {
                        "upstreams" => Some("Upstreams"),
                        "path" => Some("Paths"),
                        "listener" => Some("Listeners"),
                        "service" => Some("Services"),
                        _ => None,
                    };
                    match list_key {
                        Some(key) => push(out, key, Value::Object(inner)),
                        None => {
                            out.insert(pascal(name), Value::Object(inner));
                        }
                    }
                }
            }
        }
    }
}

fn label_span(l: &BlockLabel) -> Option<Range<usize>> {
    match l {
        BlockLabel::Ident(i) => i.span(),
        BlockLabel::String(s) => s.span(),
    }
}

fn kind_of(v: &hcl::Value) -> &'static str {
    match v {
        hcl::Value::Null => "null",
        hcl::Value::Bool(_) => "bool",
        hcl::Value::Number(_) => "number",
        hcl::Value::String(_) => "string",
        hcl::Value::Array(_) => "list",
        hcl::Value::Object(_) => "object",
    }
}

fn push(out: &mut Map<String, Value>, key: &str, v: Value) {
    match out.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
        Value::Array(a) => a.push(v),
        other => *other = Value::Array(vec![v]),
    }
}

/// `local_bind_port` → `LocalBindPort`.
pub fn pascal(s: &str) -> String {
    s.split('_')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

/// A JSON value converted to an argument's kind.
pub fn convert(kind: Kind, v: Value) -> Result<Value, String> {
    let describe = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    };
    match (kind, v) {
        (Kind::Any, v) => Ok(v),
        (Kind::Str, Value::String(s)) => Ok(Value::String(s)),
        (Kind::Str, Value::Number(n)) => Ok(Value::String(n.to_string())),
        (Kind::Str, Value::Bool(b)) => Ok(Value::String(b.to_string())),
        (Kind::Int, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Value::Number(n)),
        (Kind::Int, Value::Number(n)) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 => Ok(Value::from(f as i64)),
            _ => Err(format!("a whole number is required, not {n}")),
        },
        (Kind::Int, Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("a number is required, not {s:?}")),
        (Kind::Float, Value::Number(n)) => Ok(Value::Number(n)),
        (Kind::Bool, Value::Bool(b)) => Ok(Value::Bool(b)),
        (Kind::Bool, Value::String(s)) if s == "true" || s == "false" => {
            Ok(Value::Bool(s == "true"))
        }
        (Kind::Dur, Value::String(s)) => parse_duration(&s).map(Value::from),
        (Kind::Dur, Value::Number(n)) if n.is_i64() => Ok(Value::Number(n)),
        (Kind::StrList, Value::Array(items)) => items
            .into_iter()
            .map(|v| convert(Kind::Str, v))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        (Kind::StrMap, Value::Object(m)) => m
            .into_iter()
            .map(|(k, v)| convert(Kind::Str, v).map(|v| (k, v)))
            .collect::<Result<Map<_, _>, _>>()
            .map(Value::Object),
        (Kind::ListMap, Value::Object(m)) => m
            .into_iter()
            .map(|(k, v)| convert(Kind::StrList, v).map(|v| (k, v)))
            .collect::<Result<Map<_, _>, _>>()
            .map(Value::Object),
        (kind, v) => {
            let want = match kind {
                Kind::Str => "string",
                Kind::Int | Kind::Float => "number",
                Kind::Bool => "bool",
                Kind::Dur => "duration string",
                Kind::StrList => "list of string",
                Kind::StrMap => "map of string",
                Kind::ListMap => "map of list of string",
                Kind::Any => "value",
            };
            Err(format!("{want} required, not {}", describe(&v)))
        }
    }
}
