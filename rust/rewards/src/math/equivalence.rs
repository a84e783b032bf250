//! When an answer means the gold answer: math-verify's rules for labels (`x = 5` vs `5`), relations
//! and the sets they describe, then structure by structure (sets unordered, tuples and intervals
//! ordered with their brackets, matrices entry by entry), down to [`expr::equivalent`].

use super::expr::{self, Expr};
use super::parse::is_label;
use super::{Answer, Relation};
use crate::{Deadline, TimedOut};

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
