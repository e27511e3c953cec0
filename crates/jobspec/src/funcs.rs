//! The functions a jobspec may call: the common part of the HCL2 standard library that
//! Nomad's jobspec offers (strings, collections, numbers, encoding, type conversion).
//! `file` is declared by the decoder, which knows the jobspec's directory.

use hcl::eval::{Context, FuncArgs, FuncDef, ParamType};
use hcl::{Map, Number, Value};

type R = Result<Value, String>;

/// Declares every function on `ctx`.
pub fn declare_all(ctx: &mut Context) {
    use ParamType::{Any, Number as N, String as S};
    let arr = || ParamType::array_of(Any);
    let one = |p: ParamType, f: hcl::eval::Func| FuncDef::builder().param(p).build(f);
    let two = |a: ParamType, b: ParamType, f: hcl::eval::Func| {
        FuncDef::builder().param(a).param(b).build(f)
    };
    let variadic = |p: ParamType, f: hcl::eval::Func| FuncDef::builder().variadic_param(p).build(f);

    // Strings.
    ctx.declare_func("upper", one(S, |a| Ok(s(&a[0])?.to_uppercase().into())));
    ctx.declare_func("lower", one(S, |a| Ok(s(&a[0])?.to_lowercase().into())));
    ctx.declare_func("title", one(S, title));
    ctx.declare_func("trimspace", one(S, |a| Ok(s(&a[0])?.trim().into())));
    ctx.declare_func(
        "chomp",
        one(S, |a| Ok(s(&a[0])?.trim_end_matches(['\n', '\r']).into())),
    );
    ctx.declare_func(
        "strrev",
        one(S, |a| {
            Ok(s(&a[0])?.chars().rev().collect::<String>().into())
        }),
    );
    ctx.declare_func("strlen", one(S, |a| Ok(int(s(&a[0])?.chars().count()))));
    ctx.declare_func(
        "trim",
        two(S, S, |a| {
            let cut = s(&a[1])?;
            Ok(s(&a[0])?.trim_matches(|c| cut.contains(c)).into())
        }),
    );
    ctx.declare_func(
        "trimprefix",
        two(S, S, |a| {
            let v = s(&a[0])?;
            Ok(v.strip_prefix(s(&a[1])?).unwrap_or(v).into())
        }),
    );
    ctx.declare_func(
        "trimsuffix",
        two(S, S, |a| {
            let v = s(&a[0])?;
            Ok(v.strip_suffix(s(&a[1])?).unwrap_or(v).into())
        }),
    );
    ctx.declare_func(
        "split",
        two(S, S, |a| {
            let list = s(&a[1])?
                .split(s(&a[0])?)
                .map(Value::from)
                .collect::<Vec<_>>();
            Ok(Value::Array(list))
        }),
    );
    ctx.declare_func(
        "join",
        FuncDef::builder()
            .param(S)
            .variadic_param(arr())
            .build(join),
    );
    ctx.declare_func(
        "replace",
        FuncDef::builder()
            .params([S, S, S])
            .build(|a| Ok(s(&a[0])?.replace(s(&a[1])?, s(&a[2])?).into())),
    );
    ctx.declare_func("substr", FuncDef::builder().params([S, N, N]).build(substr));
    ctx.declare_func(
        "indent",
        two(N, S, |a| {
            let pad = " ".repeat(n(&a[0])?.max(0.0) as usize);
            Ok(s(&a[1])?.replace('\n', &format!("\n{pad}")).into())
        }),
    );
    ctx.declare_func(
        "format",
        FuncDef::builder()
            .param(S)
            .variadic_param(Any)
            .build(format),
    );
    ctx.declare_func(
        "startswith",
        two(S, S, |a| Ok(s(&a[0])?.starts_with(s(&a[1])?).into())),
    );
    ctx.declare_func(
        "endswith",
        two(S, S, |a| Ok(s(&a[0])?.ends_with(s(&a[1])?).into())),
    );

    // Numbers.
    ctx.declare_func("abs", one(N, |a| num(n(&a[0])?.abs())));
    ctx.declare_func("ceil", one(N, |a| num(n(&a[0])?.ceil())));
    ctx.declare_func("floor", one(N, |a| num(n(&a[0])?.floor())));
    ctx.declare_func("pow", two(N, N, |a| num(n(&a[0])?.powf(n(&a[1])?))));
    ctx.declare_func("signum", one(N, |a| num(n(&a[0])?.signum())));
    ctx.declare_func("max", variadic(N, |a| fold_numbers(&a, f64::max)));
    ctx.declare_func("min", variadic(N, |a| fold_numbers(&a, f64::min)));
    ctx.declare_func(
        "parseint",
        two(S, N, |a| {
            let base = n(&a[1])? as u32;
            if !(2..=36).contains(&base) {
                return Err("base must be between 2 and 36".into());
            }
            i64::from_str_radix(s(&a[0])?, base)
                .map(Value::from)
                .map_err(|e| format!("cannot parse {:?} as a base {base} integer: {e}", s(&a[0])))
        }),
    );

    // Collections.
    ctx.declare_func("length", one(Any, length));
    ctx.declare_func(
        "concat",
        variadic(arr(), |a| {
            Ok(Value::Array(
                a.iter().flat_map(|l| list(l).unwrap_or_default()).collect(),
            ))
        }),
    );
    ctx.declare_func(
        "contains",
        two(arr(), Any, |a| Ok(list(&a[0])?.contains(&a[1]).into())),
    );
    ctx.declare_func(
        "distinct",
        one(arr(), |a| {
            let mut out: Vec<Value> = Vec::new();
            for v in list(&a[0])? {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
            Ok(Value::Array(out))
        }),
    );
    ctx.declare_func(
        "element",
        two(arr(), N, |a| {
            let l = list(&a[0])?;
            if l.is_empty() {
                return Err("cannot use element function with an empty list".into());
            }
            let i = n(&a[1])?.max(0.0) as usize % l.len();
            Ok(l[i].clone())
        }),
    );
    ctx.declare_func(
        "index",
        two(arr(), Any, |a| {
            list(&a[0])?
                .iter()
                .position(|v| *v == a[1])
                .map(int)
                .ok_or_else(|| "item not found".to_string())
        }),
    );
    ctx.declare_func(
        "flatten",
        one(arr(), |a| Ok(Value::Array(flatten(list(&a[0])?)))),
    );
    ctx.declare_func(
        "reverse",
        one(arr(), |a| {
            Ok(Value::Array(list(&a[0])?.into_iter().rev().collect()))
        }),
    );
    ctx.declare_func(
        "sort",
        one(arr(), |a| {
            let mut l = list(&a[0])?
                .iter()
                .map(|v| s(v).map(str::to_owned))
                .collect::<Result<Vec<_>, _>>()?;
            l.sort();
            Ok(Value::Array(l.into_iter().map(Value::from).collect()))
        }),
    );
    ctx.declare_func(
        "slice",
        FuncDef::builder().params([arr(), N, N]).build(|a| {
            let l = list(&a[0])?;
            let (from, to) = (n(&a[1])? as usize, n(&a[2])? as usize);
            l.get(from..to)
                .map(|s| Value::Array(s.to_vec()))
                .ok_or_else(|| {
                    format!(
                        "slice indexes {from}..{to} out of range for {} elements",
                        l.len()
                    )
                })
        }),
    );
    ctx.declare_func(
        "compact",
        one(arr(), |a| {
            Ok(Value::Array(
                list(&a[0])?
                    .into_iter()
                    .filter(|v| !matches!(v, Value::Null) && v.as_str() != Some(""))
                    .collect(),
            ))
        }),
    );
    ctx.declare_func(
        "coalesce",
        variadic(Any, |a| {
            a.iter()
                .find(|v| !matches!(v, Value::Null) && v.as_str() != Some(""))
                .cloned()
                .ok_or_else(|| "no non-null, non-empty-string arguments".to_string())
        }),
    );
    ctx.declare_func(
        "coalescelist",
        variadic(arr(), |a| {
            Ok(a.iter()
                .find(|v| v.as_array().is_some_and(|l| !l.is_empty()))
                .cloned()
                .unwrap_or(Value::Array(vec![])))
        }),
    );
    ctx.declare_func("range", variadic(N, range));
    ctx.declare_func(
        "keys",
        one(Any, |a| {
            Ok(Value::Array(
                obj(&a[0])?.keys().cloned().map(Value::from).collect(),
            ))
        }),
    );
    ctx.declare_func(
        "values",
        one(Any, |a| {
            Ok(Value::Array(obj(&a[0])?.values().cloned().collect()))
        }),
    );
    ctx.declare_func(
        "lookup",
        FuncDef::builder()
            .param(Any)
            .param(S)
            .variadic_param(Any)
            .build(|a| {
                let key = s(&a[1])?;
                match (obj(&a[0])?.get(key), a.get(2)) {
                    (Some(v), _) => Ok(v.clone()),
                    (None, Some(default)) => Ok(default.clone()),
                    (None, None) => Err(format!("the given object has no attribute {key:?}")),
                }
            }),
    );
    ctx.declare_func(
        "merge",
        variadic(Any, |a| {
            let mut out = Map::new();
            for m in a.iter().filter(|v| !matches!(v, Value::Null)) {
                out.extend(obj(m)?);
            }
            Ok(Value::Object(out))
        }),
    );
    ctx.declare_func(
        "zipmap",
        two(arr(), arr(), |a| {
            let keys = list(&a[0])?;
            let values = list(&a[1])?;
            if keys.len() != values.len() {
                return Err("the two lists must have the same length".into());
            }
            let mut out = Map::new();
            for (k, v) in keys.iter().zip(values) {
                out.insert(s(k)?.to_owned(), v);
            }
            Ok(Value::Object(out))
        }),
    );
    ctx.declare_func(
        "setunion",
        variadic(arr(), |a| {
            let mut out: Vec<Value> = Vec::new();
            for v in a.iter().flat_map(|l| list(l).unwrap_or_default()) {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
            Ok(Value::Array(out))
        }),
    );

    // Encoding and types.
    ctx.declare_func(
        "jsonencode",
        one(Any, |a| {
            serde_json::to_string(&a[0])
                .map(Value::from)
                .map_err(|e| e.to_string())
        }),
    );
    ctx.declare_func(
        "jsondecode",
        one(S, |a| {
            let v: serde_json::Value =
                serde_json::from_str(s(&a[0])?).map_err(|e| e.to_string())?;
            hcl::to_value(v).map_err(|e| e.to_string())
        }),
    );
    ctx.declare_func(
        "tostring",
        one(Any, |a| match &a[0] {
            Value::String(_) | Value::Null => Ok(a[0].clone()),
            Value::Number(x) => Ok(x.to_string().into()),
            Value::Bool(b) => Ok(b.to_string().into()),
            other => Err(format!("cannot convert {other} to a string")),
        }),
    );
    ctx.declare_func(
        "tonumber",
        one(Any, |a| match &a[0] {
            Value::Number(_) | Value::Null => Ok(a[0].clone()),
            Value::String(x) => x
                .parse::<f64>()
                .map_err(|_| format!("cannot convert {x:?} to a number"))
                .and_then(num),
            other => Err(format!("cannot convert {other} to a number")),
        }),
    );
    ctx.declare_func(
        "tobool",
        one(Any, |a| match &a[0] {
            Value::Bool(_) | Value::Null => Ok(a[0].clone()),
            Value::String(x) if x == "true" => Ok(true.into()),
            Value::String(x) if x == "false" => Ok(false.into()),
            other => Err(format!("cannot convert {other} to a bool")),
        }),
    );
    ctx.declare_func("tolist", one(arr(), |a| Ok(a[0].clone())));
    ctx.declare_func(
        "toset",
        one(arr(), |a| {
            let mut out: Vec<Value> = Vec::new();
            for v in list(&a[0])? {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
            Ok(Value::Array(out))
        }),
    );
    ctx.declare_func("tomap", one(Any, |a| Ok(Value::Object(obj(&a[0])?))));
}

fn s(v: &Value) -> Result<&str, String> {
    v.as_str()
        .ok_or_else(|| format!("expected a string, got {v}"))
}

fn n(v: &Value) -> Result<f64, String> {
    v.as_number()
        .and_then(Number::as_f64)
        .ok_or_else(|| format!("expected a number, got {v}"))
}

fn int(i: usize) -> Value {
    Value::from(i as u64)
}

/// A number, integral when it is one (so that `3` does not print as `3.0`).
fn num(f: f64) -> R {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        return Ok(Value::from(f as i64));
    }
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| "the result is not a finite number".to_string())
}

fn list(v: &Value) -> Result<Vec<Value>, String> {
    v.as_array()
        .cloned()
        .ok_or_else(|| format!("expected a list, got {v}"))
}

fn obj(v: &Value) -> Result<Map<String, Value>, String> {
    v.as_object()
        .cloned()
        .ok_or_else(|| format!("expected a map or object, got {v}"))
}

fn flatten(l: Vec<Value>) -> Vec<Value> {
    l.into_iter()
        .flat_map(|v| match v {
            Value::Array(inner) => flatten(inner),
            other => vec![other],
        })
        .collect()
}

fn title(a: FuncArgs) -> R {
    let mut out = String::new();
    let mut start = true;
    for c in s(&a[0])?.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = c.is_whitespace();
    }
    Ok(out.into())
}

fn join(a: FuncArgs) -> R {
    let sep = s(&a[0])?;
    let mut parts = Vec::new();
    for l in a.iter().skip(1) {
        for v in list(l)? {
            parts.push(s(&v)?.to_owned());
        }
    }
    Ok(parts.join(sep).into())
}

fn substr(a: FuncArgs) -> R {
    let chars: Vec<char> = s(&a[0])?.chars().collect();
    let len = chars.len() as i64;
    let mut offset = n(&a[1])? as i64;
    if offset < 0 {
        offset += len;
    }
    let offset = offset.clamp(0, len) as usize;
    let length = n(&a[2])? as i64;
    let end = if length < 0 {
        chars.len()
    } else {
        (offset + length as usize).min(chars.len())
    };
    Ok(chars[offset..end].iter().collect::<String>().into())
}

fn length(a: FuncArgs) -> R {
    match &a[0] {
        Value::String(x) => Ok(int(x.chars().count())),
        Value::Array(l) => Ok(int(l.len())),
        Value::Object(m) => Ok(int(m.len())),
        other => Err(format!("cannot take the length of {other}")),
    }
}

fn fold_numbers(a: &FuncArgs, f: fn(f64, f64) -> f64) -> R {
    let mut values = a.iter().map(n);
    let first = values
        .next()
        .ok_or_else(|| "at least one number is required".to_string())??;
    let mut acc = first;
    for v in values {
        acc = f(acc, v?);
    }
    num(acc)
}

fn range(a: FuncArgs) -> R {
    let args = a.iter().map(n).collect::<Result<Vec<_>, _>>()?;
    let (start, end, step) = match args.as_slice() {
        [end] => (0.0, *end, 1.0),
        [start, end] => (*start, *end, if end >= start { 1.0 } else { -1.0 }),
        [start, end, step] => (*start, *end, *step),
        _ => return Err("range takes one to three numbers".into()),
    };
    if step == 0.0 {
        return Err("step must not be zero".into());
    }
    let mut out = Vec::new();
    let mut x = start;
    while (step > 0.0 && x < end) || (step < 0.0 && x > end) {
        out.push(num(x)?);
        x += step;
        if out.len() > 1024 {
            return Err("more than 1024 values in range".into());
        }
    }
    Ok(Value::Array(out))
}

/// `format` with the verbs jobspecs use: `%s`, `%d`, `%v`, `%q`, `%f`, `%%`.
fn format(a: FuncArgs) -> R {
    let spec = s(&a[0])?;
    let mut args = a.iter().skip(1);
    let mut out = String::new();
    let mut chars = spec.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let verb = chars.next().ok_or("format string ends with %")?;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let v = args
            .next()
            .ok_or_else(|| format!("not enough arguments for %{verb}"))?;
        match verb {
            's' | 'v' => out.push_str(&match v {
                Value::String(x) => x.clone(),
                other => other.to_string(),
            }),
            'd' => out.push_str(&format!("{}", n(v)? as i64)),
            'f' => out.push_str(&format!("{:.6}", n(v)?)),
            'q' => out.push_str(&format!("{:?}", s(v)?)),
            other => return Err(format!("unsupported format verb %{other}")),
        }
    }
    Ok(out.into())
}
