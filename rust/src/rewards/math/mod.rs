//! MATH-style answers: find the final answer, parse it into a structure, decide equivalence with the
//! ground truth. No sympy, no evaluation of model text: a LaTeX parser and exact arithmetic in Rust.
//!
//! **Reading the answer** ([`extract`]). `strict` is Tülu 3's rule: the last `\boxed{}` (with the
//! boxes written next to it, `\boxed{1}, \boxed{2}`), else Minerva's "Final Answer: The final answer is
//! X. I hope it is correct." `strict_math` reads only Minerva's sentence. `flex` reads what a grader
//! would, in math-verify's order: Minerva's sentence, the boxed answer or "final answer ... is X",
//! the math after the word "answer", else the last math in the response (`$...$`, `$$...$$`, `\[...\]`,
//! `\(...\)`, or a number in plain text such as "The answer is 7,425,000").
//!
//! **Structure** ([`Answer`]): unordered sets (`\{a,b\}`, bare `a, b` or `a; b` lists, several boxes,
//! the two values of `a \pm b`), tuples and intervals (brackets matter), unions, matrices (`pmatrix`,
//! `bmatrix`, `\left[\begin{array}...\right]`), relation chains (`=`, `<`, `\le`, `\ne`, ...), `x \in S`
//! and text. A labelled answer (`x = 5`, `(p,q) = (3,2)`, `x = 1 + 4 = 5`) compares by its value
//! when the other side is not an equation. Equations are equal when `lhs - rhs` agree up to a non-zero
//! factor, inequalities up to a positive one (or flipped: `5 \ge x` = `x \le 5`). An inequality in one
//! variable equals the interval it describes (`-2 \le x \le 7` = `[-2, 7]`).
//!
//! **Numbers** ([`number`], [`expr`]). Integers and rationals are exact at any size up to 2^16384
//! (`10^{400}` ≠ `\infty`, `2^{1024}` ≠ `2^{1025}`, `1e400` ≠ `2e400`); larger values, infinities and
//! undefined values never equal a finite value, and hostile sizes (`10^{10^{10}}`) are refused
//! early. `28\%` equals 28 and 0.28.
//!
//! **The tolerance rule**, the only one: a decimal written with k places (0.0833333333333333,
//! 4.123105625617661) stands for an exact value v (1/12, √17) when it is v rounded or truncated to
//! k places (|d − v| < 10^−k, or within a relative 10^−15: the noise of a printed double) and
//! within a relative 10^−6 (|d − v| ≤ 10^−6·|v|). A decimal inside a
//! larger expression must be within the relative 10^−6. Two decimals, or two exact values, must be
//! equal. (Evaluating exact expressions such as √12 and 2√3 in f64 allows only rounding noise, 10^−9.)

pub mod expr;
pub mod extract;
pub mod normalize;
pub mod number;

use super::{Deadline, Mode, Status, TimedOut, Verdict};
use expr::Expr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extraction {
    /// Tülu 3: the last box (group), else Minerva's "Final Answer" sentence.
    Strict,
    /// What a grader reads (math-verify's order of preference).
    Flex,
    /// Only Minerva's sentence (Tülu's `strict_math`).
    MinervaOnly,
}

impl From<Mode> for Extraction {
    fn from(mode: Mode) -> Self {
        match mode {
            Mode::Strict => Extraction::Strict,
            Mode::Loose => Extraction::Flex,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    Eq,
    /// `\approx`: the value before it is the answer.
    Approx,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    Expr(Expr),
    /// Order does not matter.
    Set(Vec<Answer>),
    /// Order and brackets matter; two items in `(`/`[` and `)`/`]` are also an interval.
    Tuple {
        open: char,
        close: char,
        items: Vec<Answer>,
    },
    Union(Vec<Answer>),
    Matrix(Vec<Vec<Answer>>),
    /// `terms[0] ops[0] terms[1] ops[1] ...`
    Chain {
        terms: Vec<Answer>,
        ops: Vec<Relation>,
    },
    /// `p = 5, q = 2`: values named by different labels.
    Assignments(Vec<(Answer, Answer)>),
    Text(String),
}

const MAX_ITEMS: usize = 64;
const MAX_NESTING: usize = 12;

/// The answer the response commits to, as parts (several parts form one set), or `None`.
pub fn candidates(response: &str, extraction: Extraction) -> Option<Vec<String>> {
    let parts = match extraction {
        Extraction::Strict => {
            let boxes = extract::last_boxes(response);
            if boxes.is_empty() {
                extract::minerva_answer(response).map(|a| vec![a])
            } else {
                Some(boxes)
            }
        }
        Extraction::Flex => extract::flex_answer(response),
        Extraction::MinervaOnly => extract::minerva_answer(response).map(|a| vec![a]),
    }?;
    let parts: Vec<String> = parts.into_iter().filter(|p| !p.trim().is_empty()).collect();
    (!parts.is_empty()).then_some(parts)
}

// ---------------------------------------------------------------- splitting

/// Bracket depth change of the character at `text[i..]` (and how many bytes it spans).
fn bracket(rest: &str) -> (i32, usize) {
    let Some(c) = rest.chars().next() else {
        return (0, 1);
    };
    match c {
        '(' | '[' | '{' => (1, 1),
        ')' | ']' | '}' => (-1, 1),
        '\\' => {
            for (token, delta) in [("\\begin{", 1), ("\\end{", -1)] {
                if rest.starts_with(token) {
                    // The environment's name is part of the bracket.
                    let name_end = rest.find('}').map_or(rest.len(), |i| i + 1);
                    return (delta, name_end);
                }
            }
            for (token, delta) in [("\\{", 1), ("\\}", -1), ("\\langle", 1), ("\\rangle", -1)] {
                if rest.starts_with(token) {
                    return (delta, token.len());
                }
            }
            (0, 1)
        }
        other => (0, other.len_utf8()),
    }
}

/// Split at every occurrence at bracket depth 0 of a separator accepted by `separator_at` (which
/// returns the separator's length in bytes); also returns the separators found.
fn split_top_level<T>(
    text: &str,
    separator_at: impl Fn(&str) -> Option<(T, usize)>,
) -> (Vec<&str>, Vec<T>) {
    let mut parts = Vec::new();
    let mut found = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if depth <= 0 {
            if let Some((separator, len)) = separator_at(rest) {
                parts.push(&text[start..i]);
                found.push(separator);
                i += len.max(1);
                start = i;
                continue;
            }
        }
        let (delta, len) = bracket(rest);
        depth += delta;
        i += len;
    }
    parts.push(&text[start..]);
    (parts, found)
}

fn split_on<'a>(text: &'a str, separator: &str) -> Vec<&'a str> {
    if !text.contains(separator) {
        return vec![text];
    }
    let first = separator.as_bytes()[0];
    split_top_level(text, |rest| {
        (rest.as_bytes()[0] == first && rest.starts_with(separator))
            .then_some(((), separator.len()))
    })
    .0
}

/// The relation at the start of `rest`, with its length.
fn relation_at(rest: &str) -> Option<(Relation, usize)> {
    if !matches!(rest.as_bytes()[0], b'<' | b'>' | b'!' | b'=' | b'\\') {
        return None;
    }
    const SYMBOLS: [(&str, Relation); 6] = [
        ("<=", Relation::Le),
        (">=", Relation::Ge),
        ("!=", Relation::Ne),
        ("=", Relation::Eq),
        ("<", Relation::Lt),
        (">", Relation::Gt),
    ];
    for (symbol, relation) in SYMBOLS {
        if rest.starts_with(symbol) {
            return Some((relation, symbol.len()));
        }
    }
    let command = rest.strip_prefix('\\')?;
    let name_len = command
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(command.len());
    let relation = match &command[..name_len] {
        "le" | "leq" | "leqslant" => Relation::Le,
        "ge" | "geq" | "geqslant" => Relation::Ge,
        "ne" | "neq" => Relation::Ne,
        "approx" | "simeq" => Relation::Approx,
        "equiv" => Relation::Eq,
        "in" => Relation::In,
        _ => return None,
    };
    Some((relation, 1 + name_len))
}

// ---------------------------------------------------------------- parsing

/// Parse an answer (normalisation included).
pub fn parse_answer(raw: &str, deadline: &Deadline) -> Result<Answer, TimedOut> {
    parse_normalized(&normalize::normalize(raw), deadline, 0)
}

/// `{5}` -> `5`: braces around the whole answer only group.
fn strip_outer_braces(mut s: &str) -> &str {
    while let Some(inner) = s.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        if extract::matching_brace(inner) == Some(inner.len()) || !balanced(inner) {
            break;
        }
        s = inner.trim();
    }
    s
}

fn balanced(text: &str) -> bool {
    let mut depth = 0i32;
    for c in text.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    depth == 0
}

fn parse_items(
    parts: &[&str],
    deadline: &Deadline,
    depth: usize,
) -> Result<Option<Vec<Answer>>, TimedOut> {
    let parts: Vec<&str> = parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() || parts.len() > MAX_ITEMS {
        return Ok(None);
    }
    let mut items = Vec::with_capacity(parts.len());
    for part in parts {
        items.push(parse_normalized(part, deadline, depth + 1)?);
    }
    Ok(Some(items))
}

/// `p = 5, q = 2` -> assignments; `x = 1, x = 2` -> `{1, 2}`; `None` unless every item assigns a value.
fn assigned_values(items: &[Answer]) -> Option<Answer> {
    let mut labels: Vec<&Answer> = Vec::new();
    let mut values = Vec::new();
    for item in items {
        match item {
            Answer::Chain { terms, ops } if ops == &[Relation::Eq] && is_label(&terms[0]) => {
                labels.push(&terms[0]);
                values.push(terms[1].clone());
            }
            _ => return None,
        }
    }
    let distinct = labels
        .iter()
        .enumerate()
        .all(|(i, a)| !labels[..i].contains(a));
    if !distinct {
        return Some(set_of(values));
    }
    Some(Answer::Assignments(
        labels.into_iter().cloned().zip(values).collect(),
    ))
}

/// Members of a set, with nested bare sets (the values of a `\pm`) merged in.
fn set_of(items: Vec<Answer>) -> Answer {
    let mut flat = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Answer::Set(inner) => flat.extend(inner),
            other => flat.push(other),
        }
    }
    Answer::Set(flat)
}

fn parse_matrix(s: &str, deadline: &Deadline, depth: usize) -> Result<Option<Answer>, TimedOut> {
    const ENVIRONMENTS: [&str; 7] = [
        "pmatrix",
        "bmatrix",
        "Bmatrix",
        "vmatrix",
        "matrix",
        "smallmatrix",
        "array",
    ];
    if !s.starts_with("\\begin{") {
        return Ok(None);
    }
    let body = ENVIRONMENTS.iter().find_map(|env| {
        let inner = s
            .strip_prefix(&format!("\\begin{{{env}}}"))?
            .strip_suffix(&format!("\\end{{{env}}}"))?;
        // `\begin{array}{cc}`: drop the column spec.
        Some(match inner.trim_start().strip_prefix('{') {
            Some(spec) if *env == "array" => &spec[extract::matching_brace(spec)? + 1..],
            _ => inner,
        })
    });
    let Some(body) = body else { return Ok(None) };
    let mut rows = Vec::new();
    for row in body
        .split("\\\\")
        .map(str::trim)
        .filter(|r| !r.is_empty() && *r != "\\hline")
    {
        let cells: Vec<&str> = row.split('&').collect();
        match parse_items(&cells, deadline, depth)? {
            Some(items) => rows.push(items),
            None => return Ok(None),
        }
    }
    let width = rows.first().map_or(0, Vec::len);
    if rows.is_empty() || rows.iter().any(|r| r.len() != width) {
        return Ok(None);
    }
    Ok(Some(Answer::Matrix(rows)))
}

fn parse_normalized(s: &str, deadline: &Deadline, depth: usize) -> Result<Answer, TimedOut> {
    if deadline.expired() {
        return Err(TimedOut);
    }
    let s = strip_outer_braces(s.trim().trim_end_matches('.').trim());
    if depth > MAX_NESTING || s.is_empty() {
        return Ok(Answer::Text(s.to_string()));
    }
    // Lists: `;` separates more loosely than `,`.
    for separator in [";", ","] {
        let parts = split_on(s, separator);
        if parts.len() > 1 {
            let Some(mut items) = parse_items(&parts, deadline, depth)? else {
                return Ok(Answer::Text(s.to_string()));
            };
            // "p = 5, q = 2": values named by different labels form the tuple (5, 2).
            if let Some(values) = assigned_values(&items) {
                return Ok(values);
            }
            // "x = 1, 2": the label of the first item names the whole list.
            if let Answer::Chain { terms, ops } = &items[0] {
                let others_plain = items[1..]
                    .iter()
                    .all(|a| !matches!(a, Answer::Chain { .. }));
                if ops == &[Relation::Eq] && is_label(&terms[0]) && others_plain {
                    let label = terms[0].clone();
                    items[0] = terms[1].clone();
                    return Ok(Answer::Chain {
                        terms: vec![label, set_of(items)],
                        ops: vec![Relation::Eq],
                    });
                }
            }
            return Ok(set_of(items));
        }
    }
    let (mut parts, mut ops) = split_top_level(s, relation_at);
    // `x = 1/3 \approx 0.33`: an approximation after the answer is not part of it.
    match ops.iter().position(|op| *op == Relation::Approx) {
        Some(0) => ops[0] = Relation::Eq,
        Some(first) => {
            ops.truncate(first);
            parts.truncate(first + 1);
        }
        None => {}
    }
    if !ops.is_empty() {
        return match parse_items(&parts, deadline, depth)? {
            Some(terms) if terms.len() == parts.len() => Ok(Answer::Chain { terms, ops }),
            _ => Ok(Answer::Text(s.to_string())),
        };
    }
    let union = split_on(s, "\\cup");
    if union.len() > 1 {
        return Ok(match parse_items(&union, deadline, depth)? {
            Some(items) if items.len() == union.len() => Answer::Union(items),
            _ => Answer::Text(s.to_string()),
        });
    }
    // `\left[\begin{array}...\end{array}\right]`: brackets around a matrix only decorate it.
    let unwrapped = match (s.chars().next(), s.chars().next_back()) {
        (Some('(' | '['), Some(')' | ']')) if wraps_whole(s) => s[1..s.len() - 1].trim(),
        _ => s,
    };
    if let Some(matrix) = parse_matrix(unwrapped, deadline, depth)? {
        return Ok(matrix);
    }
    if s.contains("\\begin{") {
        if let Some(matrix) = matrix_arithmetic(s, deadline, depth)? {
            return Ok(matrix);
        }
    }
    if let Some(tuple) = parse_bracketed(s, deadline, depth)? {
        return Ok(tuple);
    }
    Ok(match expr::parse(s, deadline)? {
        Some(e) if expr::has_plus_minus(&e) => Answer::Set(
            expr::expand_plus_minus(&e)
                .into_iter()
                .map(Answer::Expr)
                .collect(),
        ),
        Some(e) => Answer::Expr(e),
        None => Answer::Text(s.to_string()),
    })
}

type Cells = Vec<Vec<Expr>>;

/// A sum of products of matrices and scalars (`A + B`, `2A`, `A B`), computed into one matrix
/// whose entries are expressions.
fn matrix_arithmetic(
    s: &str,
    deadline: &Deadline,
    depth: usize,
) -> Result<Option<Answer>, TimedOut> {
    let (terms, signs) = split_top_level(s, |rest| match rest.chars().next() {
        Some('+') => Some((false, 1)),
        Some('-') => Some((true, 1)),
        _ => None,
    });
    let mut total: Option<Cells> = None;
    for (i, term) in terms.iter().enumerate() {
        let negative = i > 0 && signs[i - 1];
        if term.trim().is_empty() {
            return Ok(None);
        }
        let Some(mut value) = matrix_product(term, deadline, depth)? else {
            return Ok(None);
        };
        if negative {
            value = map_cells(&value, |e| Expr::Neg(Box::new(e.clone())));
        }
        total = match total {
            None => Some(value),
            Some(sum) if same_shape(&sum, &value) => Some(
                sum.iter()
                    .zip(&value)
                    .map(|(r1, r2)| {
                        r1.iter()
                            .zip(r2)
                            .map(|(a, b)| Expr::Add(vec![a.clone(), b.clone()]))
                            .collect()
                    })
                    .collect(),
            ),
            Some(_) => return Ok(None),
        };
    }
    Ok(total.map(|cells| {
        Answer::Matrix(
            cells
                .into_iter()
                .map(|row| row.into_iter().map(Answer::Expr).collect())
                .collect(),
        )
    }))
}

fn same_shape(a: &Cells, b: &Cells) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.len() == y.len())
}

fn map_cells(cells: &Cells, f: impl Fn(&Expr) -> Expr) -> Cells {
    cells
        .iter()
        .map(|row| row.iter().map(&f).collect())
        .collect()
}

/// Factors of one term: matrix environments, and the scalars written between them.
fn matrix_product(
    term: &str,
    deadline: &Deadline,
    depth: usize,
) -> Result<Option<Cells>, TimedOut> {
    let mut factors: Vec<Result<Cells, Expr>> = Vec::new();
    let mut rest = term.trim();
    while !rest.is_empty() {
        let start = rest.find("\\begin{").unwrap_or(rest.len());
        let scalar = rest[..start].replace("\\cdot", " ").replace("\\times", " ");
        if !scalar.trim().is_empty() {
            match expr::parse(scalar.trim(), deadline)? {
                Some(e) => factors.push(Err(e)),
                None => return Ok(None),
            }
        }
        if start == rest.len() {
            break;
        }
        // The environment ends where its depth returns to zero.
        let mut depth_now = 0i32;
        let mut end = start;
        while end < rest.len() {
            let (delta, len) = bracket(&rest[end..]);
            depth_now += delta;
            end += len;
            if depth_now == 0
                && delta != 0
                && rest[..end].ends_with('}')
                && rest[start..end].contains("\\end{")
            {
                break;
            }
        }
        match parse_matrix(&rest[start..end], deadline, depth)? {
            Some(Answer::Matrix(rows)) => {
                let mut cells = Vec::with_capacity(rows.len());
                for row in rows {
                    let mut out = Vec::with_capacity(row.len());
                    for cell in row {
                        match cell {
                            Answer::Expr(e) => out.push(e),
                            _ => return Ok(None),
                        }
                    }
                    cells.push(out);
                }
                factors.push(Ok(cells));
            }
            _ => return Ok(None),
        }
        rest = rest[end..].trim();
    }
    let mut product: Option<Cells> = None;
    let mut scalars: Vec<Expr> = Vec::new();
    for factor in factors {
        match factor {
            Err(scalar) => scalars.push(scalar),
            Ok(matrix) => {
                product = match product {
                    None => Some(matrix),
                    Some(left) => {
                        let inner = left.first().map_or(0, Vec::len);
                        if inner != matrix.len() || inner == 0 || left.len() * matrix[0].len() > 400
                        {
                            return Ok(None);
                        }
                        Some(
                            (0..left.len())
                                .map(|i| {
                                    (0..matrix[0].len())
                                        .map(|j| {
                                            Expr::Add(
                                                (0..inner)
                                                    .map(|k| {
                                                        Expr::Mul(vec![
                                                            left[i][k].clone(),
                                                            matrix[k][j].clone(),
                                                        ])
                                                    })
                                                    .collect(),
                                            )
                                        })
                                        .collect()
                                })
                                .collect(),
                        )
                    }
                };
            }
        }
    }
    Ok(product.map(|cells| {
        if scalars.is_empty() {
            cells
        } else {
            map_cells(&cells, |e| {
                let mut factors = scalars.clone();
                factors.push(e.clone());
                Expr::Mul(factors)
            })
        }
    }))
}

/// `\{a, b\}`, `(a, b)`, `[a, b)`, `\langle a, b \rangle` around the whole answer.
fn parse_bracketed(s: &str, deadline: &Deadline, depth: usize) -> Result<Option<Answer>, TimedOut> {
    if let Some(inner) = s.strip_prefix("\\{").and_then(|r| r.strip_suffix("\\}")) {
        if wraps_whole(s) {
            let parts = split_on(inner, ",");
            if inner.trim().is_empty() {
                return Ok(Some(Answer::Set(Vec::new())));
            }
            return Ok(parse_items(&parts, deadline, depth)?.map(set_of));
        }
    }
    if let Some(inner) = s
        .strip_prefix("\\langle")
        .and_then(|r| r.strip_suffix("\\rangle"))
    {
        if wraps_whole(s) {
            return Ok(
                parse_items(&split_on(inner, ","), deadline, depth)?.map(|items| Answer::Tuple {
                    open: '(',
                    close: ')',
                    items,
                }),
            );
        }
    }
    let mut chars = s.chars();
    let (Some(open @ ('(' | '[')), Some(close @ (')' | ']'))) = (chars.next(), chars.next_back())
    else {
        return Ok(None);
    };
    let inner = &s[1..s.len() - 1];
    let mut parts = split_on(inner, ",");
    if parts.len() < 2 {
        parts = split_on(inner, ";"); // `(0;-2;6)`
    }
    // `(1, 2]` never balances as brackets; `(a)(b)` is a product, not a tuple.
    if parts.len() < 2 || !(wraps_whole(s) || open != matching_open(close)) {
        return Ok(None);
    }
    Ok(parse_items(&parts, deadline, depth)?
        .filter(|items| items.len() == parts.len())
        .map(|items| Answer::Tuple { open, close, items }))
}

fn matching_open(close: char) -> char {
    if close == ')' {
        '('
    } else {
        '['
    }
}

/// Whether the bracket opening `text` closes at its last character.
fn wraps_whole(text: &str) -> bool {
    let mut depth = 0i32;
    let mut i = 0;
    while i < text.len() {
        let (delta, len) = bracket(&text[i..]);
        depth += delta;
        i += len;
        if depth == 0 {
            return i == text.len();
        }
    }
    false
}

// ---------------------------------------------------------------- equivalence

/// A name standing for the value (`x`, `a_1`, `(p, q)`, `f(x)`): only variables, multiplied.
fn is_label(answer: &Answer) -> bool {
    // As math-verify's `is_expr_of_only_symbols`: variables combined without any number
    // (`x`, `f(x)`, `|AB|`, `A:B`, `x + y`).
    fn only_variables(e: &Expr) -> bool {
        match e {
            Expr::Var(_) => true,
            Expr::Mul(items) | Expr::Add(items) => items.iter().all(only_variables),
            Expr::Div(a, b) => only_variables(a) && only_variables(b),
            Expr::Func(_, a) => only_variables(a),
            _ => false,
        }
    }
    match answer {
        Answer::Expr(e) => only_variables(e),
        Answer::Tuple { items, .. } | Answer::Set(items) => items.iter().all(is_label),
        _ => false,
    }
}

fn is_equation(answer: &Answer) -> bool {
    matches!(answer, Answer::Chain { ops, .. } if ops.iter().all(|op| *op == Relation::Eq))
}

fn is_assignment(answer: &Answer) -> bool {
    is_equation(answer) && matches!(answer, Answer::Chain { terms, .. } if is_label(&terms[0]))
}

/// `x = 1 + 4 = 5` -> `x = 5`; `x = 1/3 \approx 0.33` keeps what precedes the approximation.
fn shorten(answer: Answer) -> Answer {
    match answer {
        Answer::Chain { terms, ops }
            if ops.iter().all(|op| *op == Relation::Eq) && is_label(&terms[0]) =>
        {
            let last = terms.last().expect("a chain has terms").clone();
            Answer::Chain {
                terms: vec![terms[0].clone(), last],
                ops: vec![Relation::Eq],
            }
        }
        other => other,
    }
}

fn last_term(answer: &Answer) -> Answer {
    match answer {
        Answer::Chain { terms, .. } => terms.last().expect("a chain has terms").clone(),
        other => other.clone(),
    }
}

/// `x \in S` stands for `S`.
fn strip_membership(answer: Answer) -> Answer {
    match answer {
        Answer::Chain { terms, ops } if ops == [Relation::In] && is_label(&terms[0]) => {
            terms[1].clone()
        }
        other => other,
    }
}

fn is_set_like(answer: &Answer) -> bool {
    match answer {
        Answer::Union(_) | Answer::Set(_) => true,
        Answer::Tuple { items, .. } => items.len() == 2,
        _ => false,
    }
}

/// An interval that cannot be read as a point: a closed end or an infinite end, or a union.
fn is_unambiguous_interval(answer: &Answer) -> bool {
    match answer {
        Answer::Union(_) => true,
        Answer::Tuple { open, close, items } if items.len() == 2 => {
            *open == '['
                || *close == ']'
                || items
                    .iter()
                    .any(|i| matches!(i, Answer::Expr(e) if expr::contains_infinity(e)))
        }
        _ => false,
    }
}

fn infinity(negative: bool) -> Answer {
    let inf = Expr::Infinity;
    Answer::Expr(if negative {
        Expr::Neg(Box::new(inf))
    } else {
        inf
    })
}

fn interval(lower: Option<(Answer, bool)>, upper: Option<(Answer, bool)>) -> Answer {
    let (low, low_closed) = lower.unwrap_or((infinity(true), false));
    let (high, high_closed) = upper.unwrap_or((infinity(false), false));
    Answer::Tuple {
        open: if low_closed { '[' } else { '(' },
        close: if high_closed { ']' } else { ')' },
        items: vec![low, high],
    }
}

/// The set an inequality in one variable describes: `x \ge 5` -> `[5, \infty)`,
/// `-2 \le x < 7` -> `[-2, 7)`, `x \ne 3` -> `(-\infty, 3) \cup (3, \infty)`.
fn as_set(answer: &Answer) -> Option<Answer> {
    as_set_of_variable(answer).map(|(_, set)| set)
}

/// [`as_set`], with the name of the variable.
fn as_set_of_variable(answer: &Answer) -> Option<(String, Answer)> {
    let Answer::Chain { terms, ops } = answer else {
        return None;
    };
    // The variable: `x`, or `f(x)` (a product of variables).
    let is_variable = |t: &Answer| match t {
        Answer::Expr(Expr::Var(_)) => true,
        Answer::Expr(Expr::Mul(factors)) => factors.iter().all(|f| matches!(f, Expr::Var(_))),
        _ => false,
    };
    let variable = terms.iter().position(is_variable)?;
    let Answer::Expr(variable_expr) = &terms[variable] else {
        return None;
    };
    let name = format!("{:?}", expr::canonical(variable_expr));
    let constant = |t: &Answer| match t {
        Answer::Expr(e) => {
            let mut names = Vec::new();
            expr::variables(e, &mut names);
            names.is_empty()
        }
        _ => false,
    };
    if terms
        .iter()
        .enumerate()
        .any(|(i, t)| i != variable && !constant(t))
    {
        return None;
    }
    // Read each relation as a bound on the variable.
    let mut lower = None;
    let mut upper = None;
    for (i, op) in ops.iter().enumerate() {
        let (left, right) = (i, i + 1);
        let (bound, op) = if left == variable {
            (terms[right].clone(), *op)
        } else if right == variable {
            let flipped = match op {
                Relation::Lt => Relation::Gt,
                Relation::Le => Relation::Ge,
                Relation::Gt => Relation::Lt,
                Relation::Ge => Relation::Le,
                other => *other,
            };
            (terms[left].clone(), flipped)
        } else {
            return None;
        };
        match op {
            Relation::Lt | Relation::Le if upper.is_none() => {
                upper = Some((bound, op == Relation::Le));
            }
            Relation::Gt | Relation::Ge if lower.is_none() => {
                lower = Some((bound, op == Relation::Ge));
            }
            Relation::Eq if ops.len() == 1 => {
                return Some((name.clone(), Answer::Set(vec![bound])))
            }
            Relation::Ne if ops.len() == 1 => {
                let union = Answer::Union(vec![
                    interval(None, Some((bound.clone(), false))),
                    interval(Some((bound, false)), None),
                ]);
                return Some((name.clone(), union));
            }
            _ => return None,
        }
    }
    Some((name.clone(), interval(lower, upper)))
}

fn all_equivalent(a: &[Answer], b: &[Answer], deadline: &Deadline) -> Result<bool, TimedOut> {
    if a.len() != b.len() {
        return Ok(false);
    }
    for (x, y) in a.iter().zip(b) {
        if !equivalent(x, y, deadline)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Set equality: every item of each side equals an item of the other (repeats count once).
fn same_set(a: &[Answer], b: &[Answer], deadline: &Deadline) -> Result<bool, TimedOut> {
    if a.is_empty() || b.is_empty() {
        return Ok(a.is_empty() && b.is_empty());
    }
    for (from, to) in [(a, b), (b, a)] {
        'items: for x in from {
            for y in to {
                if equivalent(x, y, deadline)? {
                    continue 'items;
                }
            }
            return Ok(false);
        }
    }
    Ok(true)
}

fn text_key(text: &str) -> String {
    let key: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '{' | '}' | '\\'))
        .collect::<String>()
        .replace("text", "")
        .to_lowercase();
    // "(C)" and "C" name the same choice.
    match key.strip_prefix('(').and_then(|k| k.strip_suffix(')')) {
        Some(inner) if inner.chars().count() == 1 => inner.to_string(),
        _ => key,
    }
}

/// `lhs - rhs` of a relation between two expressions.
fn difference(left: &Answer, right: &Answer) -> Option<Expr> {
    match (left, right) {
        (Answer::Expr(l), Answer::Expr(r)) => {
            Some(Expr::Add(vec![l.clone(), Expr::Neg(Box::new(r.clone()))]))
        }
        _ => None,
    }
}

/// Whether `f = c·g` for a constant `c` ≠ 0 (positive when `positive`), checked at sample points.
fn proportional(f: &Expr, g: &Expr, positive: bool, deadline: &Deadline) -> Result<bool, TimedOut> {
    let (f, g) = (expr::canonical(f), expr::canonical(g));
    let mut names = Vec::new();
    expr::variables(&f, &mut names);
    expr::variables(&g, &mut names);
    if names.is_empty() {
        return Ok(false);
    }
    let mut budget = expr::Budget::new(deadline);
    let mut ratio: Option<expr::C> = None;
    for point in expr::sample_points(&names, 8) {
        let (fv, gv) = (
            expr::evaluate(&f, &point, &mut budget)?,
            expr::evaluate(&g, &point, &mut budget)?,
        );
        if !(fv.is_finite() && gv.is_finite()) {
            continue;
        }
        let scale = 1e-9 * (1.0 + fv.re.abs().max(gv.re.abs()));
        match (
            fv.re.abs() <= scale && fv.im.abs() <= scale,
            gv.re.abs() <= scale && gv.im.abs() <= scale,
        ) {
            (true, true) => continue,
            (false, false) => {}
            _ => return Ok(false),
        }
        let r = expr::C {
            re: (fv.re * gv.re + fv.im * gv.im) / (gv.re * gv.re + gv.im * gv.im),
            im: (fv.im * gv.re - fv.re * gv.im) / (gv.re * gv.re + gv.im * gv.im),
        };
        match ratio {
            None => {
                if positive && !(r.is_real() && r.re > 0.0) {
                    return Ok(false);
                }
                ratio = Some(r);
            }
            Some(first) => {
                let tolerance = 1e-9 * first.re.hypot(first.im).max(1e-300);
                if (r.re - first.re).abs() > tolerance || (r.im - first.im).abs() > tolerance {
                    return Ok(false);
                }
            }
        }
    }
    Ok(ratio.is_some())
}

/// One relation `a op b` as `(f, kind)` with `f = a - b` oriented so that `<` reads as `>`.
fn oriented(left: &Answer, op: Relation, right: &Answer) -> Option<(Expr, Relation)> {
    let (f, op) = match op {
        Relation::Lt => (difference(right, left)?, Relation::Gt),
        Relation::Le => (difference(right, left)?, Relation::Ge),
        Relation::In => return None,
        other => (difference(left, right)?, other),
    };
    Some((f, op))
}

fn relations_equivalent(
    gold: &Answer,
    pred: &Answer,
    deadline: &Deadline,
) -> Result<bool, TimedOut> {
    let (Answer::Chain { terms: gt, ops: go }, Answer::Chain { terms: pt, ops: po }) = (gold, pred)
    else {
        return Ok(false);
    };
    if is_assignment(gold) && is_assignment(pred) {
        return Ok(equivalent(&gt[0], &pt[0], deadline)? && equivalent(&gt[1], &pt[1], deadline)?);
    }
    if go.len() != po.len() {
        return Ok(false);
    }
    // Relation by relation, in order or with the chain read backwards (`a < x < b` = `b > x > a`).
    let reversed_terms: Vec<Answer> = pt.iter().rev().cloned().collect();
    let reversed_ops: Vec<Relation> = po.iter().rev().map(|op| flip(*op)).collect();
    for (terms, ops) in [
        (pt.as_slice(), po.as_slice()),
        (&reversed_terms[..], &reversed_ops[..]),
    ] {
        let mut all = true;
        for i in 0..go.len() {
            let same = match (
                oriented(&gt[i], go[i], &gt[i + 1]),
                oriented(&terms[i], ops[i], &terms[i + 1]),
            ) {
                (Some((f, a)), Some((g, b))) if a == b => {
                    let positive = matches!(a, Relation::Gt | Relation::Ge);
                    proportional(&f, &g, positive, deadline)?
                }
                _ => {
                    go[i] == ops[i]
                        && equivalent(&gt[i], &terms[i], deadline)?
                        && equivalent(&gt[i + 1], &terms[i + 1], deadline)?
                }
            };
            if !same {
                all = false;
                break;
            }
        }
        if all {
            return Ok(true);
        }
    }
    Ok(false)
}

fn flip(op: Relation) -> Relation {
    match op {
        Relation::Lt => Relation::Gt,
        Relation::Le => Relation::Ge,
        Relation::Gt => Relation::Lt,
        Relation::Ge => Relation::Le,
        other => other,
    }
}

/// Whether `pred` answers what `gold` asks (math-verify's rules for labels and relations).
pub fn equivalent(gold: &Answer, pred: &Answer, deadline: &Deadline) -> Result<bool, TimedOut> {
    if deadline.expired() {
        return Err(TimedOut);
    }
    let mut gold = strip_membership(shorten(gold.clone()));
    let mut pred = strip_membership(shorten(pred.clone()));
    // A value labelled on one side only: compare the values (`x = 5` vs `5`, `2+3 = 5` vs `5`).
    if is_equation(&pred) && !is_equation(&gold) {
        pred = last_term(&pred);
    } else if is_assignment(&gold) && !is_equation(&pred) {
        gold = last_term(&gold);
    }
    // An inequality against an interval compares the sets they describe.
    if matches!(gold, Answer::Chain { .. }) && is_set_like(&pred) {
        if let Some(set) = as_set(&gold) {
            gold = set;
        }
    }
    if matches!(pred, Answer::Chain { .. }) && is_unambiguous_interval(&gold) {
        if let Some(set) = as_set(&pred) {
            pred = set;
        }
    }
    compare(&gold, &pred, deadline)
}

fn compare(gold: &Answer, pred: &Answer, deadline: &Deadline) -> Result<bool, TimedOut> {
    use Answer::*;
    Ok(match (gold, pred) {
        (Expr(x), Expr(y)) => expr::equivalent(x, y, deadline)?,
        (Chain { .. }, Chain { .. }) => {
            relations_equivalent(gold, pred, deadline)?
                || (!is_equation(gold)
                    && match (as_set_of_variable(gold), as_set_of_variable(pred)) {
                        (Some((x, a)), Some((y, b))) => x == y && compare(&a, &b, deadline)?,
                        _ => false,
                    })
        }
        (
            Tuple {
                open: o1,
                close: c1,
                items: i1,
            },
            Tuple {
                open: o2,
                close: c2,
                items: i2,
            },
        ) => o1 == o2 && c1 == c2 && all_equivalent(i1, i2, deadline)?,
        (Union(x), Union(y)) | (Set(x), Set(y)) => same_set(x, y, deadline)?,
        // A point or pair written as a bare list, in order ("3, 2" for (3, 2)).
        (
            Tuple {
                open: '(',
                close: ')',
                items,
            },
            Set(list),
        ) => all_equivalent(items, list, deadline)?,
        (
            Set(list),
            Tuple {
                open: '(',
                close: ')',
                items,
            },
        ) => same_set(list, items, deadline)?,
        (Matrix(x), Matrix(y)) => {
            x.len() == y.len() && {
                let mut same = true;
                for (rx, ry) in x.iter().zip(y) {
                    if !all_equivalent(rx, ry, deadline)? {
                        same = false;
                        break;
                    }
                }
                same
            }
        }
        // Label by label, in any order (`a_3 = 2, a_{37} = 19`).
        (Assignments(x), Assignments(y)) => {
            let mut all = x.len() == y.len();
            for (label, value) in x {
                if !all {
                    break;
                }
                let mut found = false;
                for (other_label, other_value) in y {
                    if equivalent(label, other_label, deadline)? {
                        found = equivalent(value, other_value, deadline)?;
                        break;
                    }
                }
                all = found;
            }
            all
        }
        // Values in the order written, against a tuple or a bare list (`x = -5, p = 14/3` vs `-5, 14/3`).
        (Assignments(named), Tuple { items, .. } | Set(items))
        | (Tuple { items, .. } | Set(items), Assignments(named)) => {
            let values: Vec<Answer> = named.iter().map(|(_, v)| v.clone()).collect();
            all_equivalent(&values, items, deadline)?
        }
        // One distinct value written several times (`\boxed{5} so \boxed{5.0}`).
        (Set(items), other) | (other, Set(items)) if !matches!(other, Set(_)) => {
            let mut all = !items.is_empty();
            for item in items {
                if !equivalent(item, other, deadline)? {
                    all = false;
                    break;
                }
            }
            all
        }
        (Text(x), Text(y)) => text_key(x) == text_key(y),
        _ => false,
    })
}

// ---------------------------------------------------------------- verify

/// The ground truth's answer: its last box group or Minerva sentence when it is a full solution,
/// else itself (Tülu 3's ground truths are plain answers: `\frac{1}{2}`, `(1,2)`, `\text{(C)}`).
fn gold_answer(ground_truth: &str) -> String {
    let boxes = extract::last_boxes(ground_truth);
    if !boxes.is_empty() {
        return boxes.join(", ");
    }
    extract::minerva_answer(ground_truth).unwrap_or_else(|| ground_truth.to_string())
}

pub fn verify(
    response: &str,
    ground_truth: &str,
    extraction: Extraction,
    deadline: Deadline,
) -> Verdict {
    match verify_inner(response, ground_truth, extraction, &deadline) {
        Ok(verdict) => verdict,
        Err(TimedOut) => Verdict::with_status(Status::Timeout),
    }
}

fn verify_inner(
    response: &str,
    ground_truth: &str,
    extraction: Extraction,
    deadline: &Deadline,
) -> Result<Verdict, TimedOut> {
    let Some(parts) = candidates(response, extraction) else {
        return Ok(Verdict::with_status(Status::Unparseable));
    };
    let extracted = parts.join(", ");
    let gold = parse_answer(&gold_answer(ground_truth), deadline)?;
    let answer = if parts.len() == 1 {
        parse_answer(&parts[0], deadline)?
    } else {
        let mut items = Vec::with_capacity(parts.len());
        for part in &parts {
            items.push(parse_answer(part, deadline)?);
        }
        // `\boxed{k = 45} and \boxed{n = 2}`
        assigned_values(&items).unwrap_or_else(|| set_of(items))
    };
    Ok(Verdict::new(
        equivalent(&gold, &answer, deadline)?,
        Some(extracted),
    ))
}

#[cfg(test)]
mod tests;
