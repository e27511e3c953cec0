//! HCL1's token boundaries rewritten as HCL2's, so that `hcl-rs` (an HCL2 parser) reads
//! policy rules the way Nomad's HCL1 parser does (`http-api.md` §8.4).
//!
//! There is no maintained HCL1 parser in Rust. For the constructs policies use, the two
//! languages differ only in where items may end: HCL1 ignores newlines between tokens
//! (`namespace "a" { policy = "read" capabilities = ["x"] }` on one line, a value on the
//! line after its `=`, a `{` on the line after its block's labels) and lets a comma
//! separate items; HCL2 ends every item of a body with a newline and wants a newline
//! after a multi-item block's `{`. This pass tokenises the text just enough to see
//! those boundaries (strings, heredocs, comments, brackets) and inserts or swaps
//! whitespace there. It never changes what a string or heredoc means: their text is
//! copied, except that `${` and `%{` (literal text in HCL1, templates in HCL2) are
//! escaped as `$${` and `%%{`, which HCL2 reads back as the same characters.
//!
//! Every byte of the output remembers the byte of the input it came from, so that an
//! HCL2 parse error is reported at the line and column of the text the user wrote.

/// The HCL2 text and, for each of its bytes, the input byte it came from.
#[derive(Debug)]
pub struct Normalized {
    pub text: String,
    /// `origin[i]` is the input offset of output byte `i`; one extra entry for the end.
    origin: Vec<usize>,
}

impl Normalized {
    /// The input offset of an output offset (the end for anything past it).
    pub fn original_offset(&self, offset: usize) -> usize {
        let last = self.origin.len() - 1;
        self.origin[offset.min(last)]
    }
}

/// One-based line and column (in characters) of a byte offset of `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Rewrites HCL1 rules as equivalent HCL2 text.
pub fn normalize(src: &str) -> Normalized {
    let mut n = Normalizer {
        src,
        out: String::with_capacity(src.len() + 16),
        origin: Vec::with_capacity(src.len() + 16),
        frames: vec![Frame::new(Kind::Body)],
        at_line_start: true,
        line_comment_on_line: false,
    };
    let mut pos = 0;
    while pos < src.len() {
        let (token, end) = next_token(src, pos);
        n.token(token, pos, end);
        pos = end;
    }
    n.origin.push(src.len());
    Normalized {
        text: n.out,
        origin: n.origin,
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Token {
    Newline,
    /// Spaces, tabs, carriage returns.
    Space,
    /// `#…` or `//…`, up to the newline.
    LineComment,
    /// `/* … */` (to the end if unterminated).
    BlockComment,
    /// A quoted string, interpolations included.
    Str,
    /// `<<ID` or `<<-ID` up to its closing line.
    Heredoc,
    Open(u8),
    Close(u8),
    /// `=` or `:`.
    Assign,
    Comma,
    /// Names, numbers, `true`/`false`, and any other run of characters.
    Word,
}

/// What a bracket opened: a block's body (items end at newlines), an object value
/// (items end at newlines or commas) or a list/parenthesis (newlines are free).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Body,
    Object,
    List,
}

/// Where the current item of a body or object is.
#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    /// Between items.
    Start,
    /// After an item's key (and labels).
    Header,
    /// After `=`, before the value.
    Value,
    /// After a complete item, before the newline that ends it.
    Done,
}

#[derive(Debug)]
struct Frame {
    kind: Kind,
    state: State,
    /// Whether the body has had an item (an empty `{}` stays on one line).
    has_items: bool,
}

impl Frame {
    fn new(kind: Kind) -> Frame {
        Frame {
            kind,
            state: State::Start,
            has_items: false,
        }
    }
}

struct Normalizer<'a> {
    src: &'a str,
    out: String,
    origin: Vec<usize>,
    frames: Vec<Frame>,
    /// Nothing but whitespace and block comments written since the last newline.
    at_line_start: bool,
    /// A `#`/`//` comment has been written on the current output line.
    line_comment_on_line: bool,
}

impl Normalizer<'_> {
    fn top(&mut self) -> &mut Frame {
        let last = self.frames.len() - 1;
        &mut self.frames[last]
    }

    fn copy(&mut self, start: usize, end: usize) {
        self.out.push_str(&self.src[start..end]);
        self.origin.extend(start..end);
    }

    /// Writes text that is not in the input, attributed to input offset `at`.
    fn insert(&mut self, text: &str, at: usize) {
        self.out.push_str(text);
        self.origin.extend(std::iter::repeat_n(at, text.len()));
    }

    fn newline_before(&mut self, at: usize) {
        if !self.at_line_start {
            self.insert("\n", at);
            self.newline_written();
        }
    }

    fn newline_written(&mut self) {
        self.at_line_start = true;
        self.line_comment_on_line = false;
    }

    fn token(&mut self, token: Token, start: usize, end: usize) {
        let kind = self.top().kind;
        match token {
            Token::Space => self.copy(start, end),
            Token::BlockComment => {
                self.copy(start, end);
                if self.src[start..end].contains('\n') {
                    // The comment's newlines are not HCL2 newlines: the next item still
                    // needs one of its own.
                    self.at_line_start = false;
                }
            }
            Token::LineComment => {
                self.copy(start, end);
                self.line_comment_on_line = true;
            }
            Token::Newline => self.newline(start, end, kind),
            Token::Comma => self.comma(start, end, kind),
            Token::Open(b) => {
                self.item_token(start, kind);
                self.copy(start, end);
                self.at_line_start = false;
                let state = self.top().state;
                let inner = match (b, kind, state) {
                    (b'{', Kind::Body | Kind::Object, State::Header) => Kind::Body,
                    (b'{', _, _) => Kind::Object,
                    _ => Kind::List,
                };
                self.frames.push(Frame::new(inner));
            }
            Token::Close(_) => {
                let frame = self.top();
                if frame.kind == Kind::Body && frame.has_items {
                    // A block with items is a multi-line block in HCL2.
                    self.newline_before(start);
                }
                if self.frames.len() > 1 {
                    self.frames.pop();
                }
                self.copy(start, end);
                self.at_line_start = false;
                self.value_done();
            }
            Token::Assign => {
                if matches!(kind, Kind::Body | Kind::Object) && self.top().state == State::Header {
                    self.top().state = State::Value;
                }
                self.copy(start, end);
                self.at_line_start = false;
            }
            Token::Word | Token::Str | Token::Heredoc => {
                self.item_token(start, kind);
                if matches!(token, Token::Str | Token::Heredoc) {
                    self.copy_escaped(start, end);
                } else {
                    self.copy(start, end);
                }
                self.at_line_start = false;
                if matches!(kind, Kind::Body | Kind::Object) {
                    let frame = self.top();
                    frame.state = match frame.state {
                        State::Value => State::Done,
                        _ => State::Header,
                    };
                }
            }
        }
    }

    /// Before a token of a body or object: a new item starts on a line of its own.
    fn item_token(&mut self, start: usize, kind: Kind) {
        let state = self.top().state;
        let new_item = match kind {
            Kind::Body => matches!(state, State::Start | State::Done),
            Kind::Object => state == State::Done,
            Kind::List => false,
        };
        if new_item {
            self.newline_before(start);
        }
        if kind != Kind::List && matches!(state, State::Start | State::Done) {
            let frame = self.top();
            frame.has_items = true;
            frame.state = State::Start;
        }
    }

    /// A bracketed value (or block) closed: the item it belonged to is complete.
    fn value_done(&mut self) {
        let frame = self.top();
        if frame.kind != Kind::List && matches!(frame.state, State::Value | State::Header) {
            frame.state = State::Done;
        }
    }

    /// HCL1 newlines are plain whitespace: one inside an item (after a key, labels or
    /// `=`) becomes a space, so HCL2 sees the item on one line. After a `#` comment it
    /// must stay (the comment would swallow the rest), and HCL2 reports that item.
    fn newline(&mut self, start: usize, end: usize, kind: Kind) {
        let inside_item = matches!(kind, Kind::Body | Kind::Object)
            && matches!(self.top().state, State::Header | State::Value);
        if inside_item && !self.line_comment_on_line {
            self.insert(" ", start);
            return;
        }
        self.copy(start, end);
        self.newline_written();
        if matches!(kind, Kind::Body | Kind::Object) && self.top().state == State::Done {
            self.top().state = State::Start;
        }
    }

    /// HCL1 separates a body's items with commas too; HCL2 only an object's.
    fn comma(&mut self, start: usize, end: usize, kind: Kind) {
        if kind == Kind::Body && self.top().state == State::Done {
            self.insert("\n", start);
            self.newline_written();
            self.top().state = State::Start;
            return;
        }
        self.copy(start, end);
        self.at_line_start = false;
        if kind == Kind::Object && self.top().state == State::Done {
            self.top().state = State::Start;
        }
    }

    /// A string or heredoc, with `${`/`%{` escaped (literal in HCL1, templates in HCL2).
    fn copy_escaped(&mut self, start: usize, end: usize) {
        let bytes = self.src.as_bytes();
        let mut run = start;
        for i in start..end {
            if matches!(bytes[i], b'$' | b'%') && bytes.get(i + 1) == Some(&b'{') && i + 1 < end {
                self.copy(run, i);
                let escape = if bytes[i] == b'$' { "$" } else { "%" };
                self.insert(escape, i);
                run = i;
            }
        }
        self.copy(run, end);
        if self.src[start..end].contains('\n') {
            // A heredoc ends on its closing line.
            self.line_comment_on_line = false;
        }
    }
}

/// The token starting at `pos` and where it ends.
fn next_token(src: &str, pos: usize) -> (Token, usize) {
    let bytes = src.as_bytes();
    let b = bytes[pos];
    let rest = &src[pos..];
    match b {
        b'\n' => (Token::Newline, pos + 1),
        b' ' | b'\t' | b'\r' => {
            let len = rest
                .bytes()
                .take_while(|c| matches!(c, b' ' | b'\t' | b'\r'))
                .count();
            (Token::Space, pos + len)
        }
        b'#' => (Token::LineComment, line_end(src, pos)),
        b'/' if rest.starts_with("//") => (Token::LineComment, line_end(src, pos)),
        b'/' if rest.starts_with("/*") => {
            let end = rest[2..].find("*/").map_or(src.len(), |i| pos + 2 + i + 2);
            (Token::BlockComment, end)
        }
        b'"' => (Token::Str, string_end(bytes, pos + 1)),
        b'<' if rest.starts_with("<<") => match heredoc_end(src, pos) {
            Some(end) => (Token::Heredoc, end),
            None => (Token::Word, pos + 2),
        },
        b'{' | b'[' | b'(' => (Token::Open(b), pos + 1),
        b'}' | b']' | b')' => (Token::Close(b), pos + 1),
        b'=' | b':' => (Token::Assign, pos + 1),
        b',' => (Token::Comma, pos + 1),
        _ => {
            let len = rest
                .char_indices()
                .find(|&(i, c)| i > 0 && ends_word(&rest[i..], c))
                .map_or(rest.len(), |(i, _)| i);
            (Token::Word, pos + len)
        }
    }
}

fn ends_word(rest: &str, c: char) -> bool {
    matches!(
        c,
        '\n' | ' ' | '\t' | '\r' | '#' | '"' | '{' | '}' | '[' | ']' | '(' | ')' | '=' | ':' | ','
    ) || rest.starts_with("//")
        || rest.starts_with("/*")
        || rest.starts_with("<<")
}

fn line_end(src: &str, pos: usize) -> usize {
    src[pos..].find('\n').map_or(src.len(), |i| pos + i)
}

/// The end of a quoted string whose text starts at `pos` (after the opening quote):
/// past the closing quote, or at the newline or end where an unterminated one stops
/// (HCL2 then reports it). `${…}` may hold quotes and braces of its own.
fn string_end(bytes: &[u8], mut pos: usize) -> usize {
    let mut depth = 0usize;
    while pos < bytes.len() {
        match bytes[pos] {
            b'\\' => pos += 1,
            b'\n' if depth == 0 => return pos,
            b'"' if depth == 0 => return pos + 1,
            b'"' => pos = string_end(bytes, pos + 1) - 1,
            b'$' if bytes.get(pos + 1) == Some(&b'{') => {
                depth += 1;
                pos += 1;
            }
            b'{' if depth > 0 => depth += 1,
            b'}' if depth > 0 => depth -= 1,
            _ => {}
        }
        pos += 1;
    }
    bytes.len()
}

/// The end of a heredoc starting at `pos` (`<<ID` or `<<-ID`): the end of its closing
/// line (`ID` alone, indented or not), or the end of the text. `None` when `<<` is not
/// followed by a name and a newline.
fn heredoc_end(src: &str, pos: usize) -> Option<usize> {
    let header = &src[pos + 2..line_end(src, pos)];
    let name = header.strip_prefix('-').unwrap_or(header).trim_end();
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return None;
    }
    let mut line_start = line_end(src, pos) + 1;
    while line_start <= src.len() {
        let end = line_end(src, line_start.min(src.len()));
        if src[line_start.min(end)..end].trim() == name {
            return Some(end);
        }
        if end >= src.len() {
            break;
        }
        line_start = end + 1;
    }
    Some(src.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(src: &str) -> String {
        normalize(src).text
    }

    #[test]
    fn multi_line_hcl_is_unchanged() {
        let src = "namespace \"default\" {\n  policy = \"read\"\n  capabilities = [\n    \"a\",\n    \"b\",\n  ]\n}\n\nagent {\n  policy = \"read\"\n}\n";
        assert_eq!(norm(src), src);
    }

    #[test]
    fn one_line_block_items_get_their_own_lines() {
        assert_eq!(
            norm(r#"namespace "default" { policy = "read" capabilities = ["list-jobs"] }"#),
            "namespace \"default\" { \npolicy = \"read\" \ncapabilities = [\"list-jobs\"] \n}"
        );
    }

    #[test]
    fn blocks_on_one_line_are_separated() {
        assert_eq!(
            norm(r#"agent { policy = "read" } node { policy = "write" }"#),
            "agent { \npolicy = \"read\" \n} \nnode { \npolicy = \"write\" \n}"
        );
    }

    #[test]
    fn commas_between_body_items_become_newlines() {
        assert_eq!(
            norm(r#"agent { policy = "read", }, node { policy = "read" }"#),
            "agent { \npolicy = \"read\"\n }\n node { \npolicy = \"read\" \n}"
        );
    }

    #[test]
    fn object_values_keep_commas_and_split_on_spaces() {
        assert_eq!(
            norm(r#"operator = { policy = "read", x = 1 }"#),
            r#"operator = { policy = "read", x = 1 }"#
        );
        assert_eq!(
            norm(r#"operator = { policy = "read" x = 1 }"#),
            "operator = { policy = \"read\" \nx = 1 }"
        );
    }

    #[test]
    fn newlines_inside_an_item_are_whitespace() {
        assert_eq!(
            norm("namespace \"x\"\n{\n  policy =\n    \"read\"\n}"),
            "namespace \"x\" {\n  policy =     \"read\"\n}"
        );
    }

    #[test]
    fn strings_are_copied_as_they_are() {
        let src = r#"path "a{b}c = d, e # f // g /* h */" { capabilities = ["x\"y", "z"] }"#;
        let out = norm(src);
        assert!(out.starts_with(r#"path "a{b}c = d, e # f // g /* h */" {"#));
        assert!(out.contains(r#"capabilities = ["x\"y", "z"]"#));
    }

    #[test]
    fn interpolation_and_directive_openers_are_escaped_as_literals() {
        assert_eq!(norm(r#"x = "${a("}")} %{b}""#), r#"x = "$${a("}")} %%{b}""#);
    }

    #[test]
    fn comments_keep_their_place() {
        assert_eq!(
            norm("agent { policy = \"read\" # why\n}  // end\n/* a\nb */ node { policy = \"read\" }"),
            "agent { \npolicy = \"read\" # why\n}  // end\n/* a\nb */ \nnode { \npolicy = \"read\" \n}"
        );
    }

    #[test]
    fn heredocs_are_one_value() {
        let src =
            "x = <<EOF\n} policy = \"no\" ${y}\nEOF\nagent { policy = <<-EOT\n    read\n    EOT\n}";
        assert_eq!(
            norm(src),
            "x = <<EOF\n} policy = \"no\" $${y}\nEOF\nagent { \npolicy = <<-EOT\n    read\n    EOT\n}"
        );
    }

    #[test]
    fn empty_blocks_stay_on_one_line() {
        assert_eq!(norm("agent {} node {}"), "agent {} \nnode {}");
    }

    #[test]
    fn every_output_byte_maps_to_the_input_it_came_from() {
        let src = "agent { policy = \"read\" capabilities = [] }";
        let n = normalize(src);
        let at = n.text.find("capabilities").unwrap();
        assert_eq!(n.original_offset(at), src.find("capabilities").unwrap());
        // The inserted newline is attributed to the item it separates.
        assert_eq!(n.original_offset(at - 1), src.find("capabilities").unwrap());
        assert_eq!(n.original_offset(n.text.len()), src.len());
        assert_eq!(line_column("ab\ncé d", 7), (2, 4));
    }

    #[test]
    fn unterminated_things_end_at_the_end() {
        for src in [
            "x = \"abc",
            "x = <<EOF\nabc",
            "/* abc",
            "a { b = [",
            "} } ]",
        ] {
            let n = normalize(src);
            assert!(n.text.len() >= src.len());
        }
    }

    /// Random texts from policy fragments (and broken ones): the pass never panics, maps
    /// every output byte to an input byte in order, and never shortens the text.
    #[test]
    fn any_text_is_normalized_without_panic_and_in_order() {
        const PIECES: &[&str] = &[
            "namespace",
            " ",
            "\n",
            "\"default\"",
            "{",
            "}",
            "[",
            "]",
            "(",
            ")",
            "=",
            ":",
            ",",
            "policy",
            "\"read\"",
            "# c",
            "// c",
            "/* c */",
            "/*\n*/",
            "<<EOF\n",
            "EOF",
            "<<-X\n",
            "  X",
            "${",
            "%{",
            "\"",
            "\\",
            "é",
            "\t",
            "1.5",
            "-",
            "/",
            "<",
            "agent",
            "\r\n",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..3000 {
            let len = (next() % 24) as usize;
            let text: String = (0..len)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            let n = normalize(&text);
            assert_eq!(n.origin.len(), n.text.len() + 1, "{text:?}");
            assert!(n.origin.windows(2).all(|w| w[0] <= w[1]), "{text:?}");
            assert!(n.text.len() >= text.len(), "{text:?}");
            let _ = crate::acl::rules::parse_rules(&text);
        }
    }
}
