//! From a normalised answer string to an [`Answer`]: lists split at top-level `;` and `,`,
//! relation chains, unions, matrices (and sums and products of matrices), bracketed tuples and
//! intervals, then scalar expressions ([`expr`]); anything else is text. All splitting walks
//! char boundaries (`char_indices`-style offsets), so no input can slice inside a UTF-8 character.

use super::expr::{self, Expr};
use super::{extract, normalize, Answer, Relation};
use crate::{Deadline, TimedOut};

const MAX_ITEMS: usize = 64;
const MAX_NESTING: usize = 12;

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
pub(super) fn assigned_values(items: &[Answer]) -> Option<Answer> {
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
pub(super) fn set_of(items: Vec<Answer>) -> Answer {
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

/// A name standing for the value (`x`, `a_1`, `(p, q)`, `f(x)`): only variables, multiplied.
pub(super) fn is_label(answer: &Answer) -> bool {
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
