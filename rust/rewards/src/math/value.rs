//! Values of expressions: exact rational evaluation, complex-f64 evaluation at sample points, and
//! the equivalence of two scalar expressions (see [`equivalent`] and the tolerance rule in the `math`
//! module docs).

use super::expr::{canonical, children, contains_infinity, precision, Expr, Precision};
use super::number::{self, Q};
use crate::{Deadline, TimedOut};
use num_traits::{One, Signed, ToPrimitive, Zero};

/// Terms a `\sum` or `\prod` may have when it is evaluated.
const MAX_SERIES_TERMS: i64 = 10_000;

// ---------------------------------------------------------------- exact evaluation

/// Work counter shared by one comparison: bounds series and deep trees, polls the deadline.
pub struct Budget<'a> {
    steps: u32,
    deadline: &'a Deadline,
}

const MAX_STEPS: u32 = 200_000;

impl<'a> Budget<'a> {
    pub fn new(deadline: &'a Deadline) -> Self {
        Budget { steps: 0, deadline }
    }

    /// `Ok(false)` when the step budget is spent, `Err` past the deadline.
    fn tick(&mut self) -> Result<bool, TimedOut> {
        self.steps += 1;
        if self.steps % 512 == 0 && self.deadline.expired() {
            return Err(TimedOut);
        }
        Ok(self.steps <= MAX_STEPS)
    }
}

type Bindings<'b, T> = &'b [(String, T)];

/// The exact rational value, when there is one and it is small enough.
pub fn exact(expr: &Expr, budget: &mut Budget) -> Result<Option<Q>, TimedOut> {
    exact_in(expr, &[], budget)
}

fn exact_in(expr: &Expr, env: Bindings<Q>, budget: &mut Budget) -> Result<Option<Q>, TimedOut> {
    if !budget.tick()? {
        return Ok(None);
    }
    macro_rules! go {
        ($e:expr) => {
            match exact_in($e, env, budget)? {
                Some(v) => v,
                None => return Ok(None),
            }
        };
    }
    Ok(match expr {
        Expr::Num(d) => d.value(),
        Expr::Var(name) => env
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone()),
        Expr::Neg(a) => Some(-go!(a)),
        Expr::Add(terms) => {
            let mut total = Q::zero();
            for term in terms {
                let value = go!(term);
                total = match number::add(&total, &value) {
                    Some(t) => t,
                    None => return Ok(None),
                };
            }
            Some(total)
        }
        Expr::Mul(factors) => {
            let mut total = Q::one();
            for factor in factors {
                let value = go!(factor);
                total = match number::mul(&total, &value) {
                    Some(t) => t,
                    None => return Ok(None),
                };
            }
            Some(total)
        }
        Expr::Div(a, b) => number::div(&go!(a), &go!(b)),
        Expr::Pow(a, b) => {
            let (base, exponent) = (go!(a), go!(b));
            number::pow(&base, &exponent)
        }
        Expr::Root(a, n) => {
            let (radicand, index) = (go!(a), go!(n));
            let index = index
                .is_integer()
                .then(|| index.to_integer().to_u32())
                .flatten();
            index.and_then(|n| number::root(&radicand, n))
        }
        Expr::Factorial(a) => number::factorial(&go!(a)),
        Expr::Binom(n, k) => {
            let (n, k) = (go!(n), go!(k));
            number::binomial(&n, &k)
        }
        Expr::Func("abs", a) => Some(go!(a).abs()),
        Expr::Func("floor", a) => Some(number::floor(&go!(a))),
        Expr::Func("ceil", a) => Some(number::ceil(&go!(a))),
        Expr::Percent(a) => number::div(&go!(a), &number::integer(100)),
        Expr::Series {
            product,
            var,
            from,
            to,
            body,
        } => {
            let (from, to) = (go!(from), go!(to));
            let (Some(from), Some(to)) = (integer_bound(&from), integer_bound(&to)) else {
                return Ok(None);
            };
            if to - from >= MAX_SERIES_TERMS {
                return Ok(None);
            }
            let mut total = if *product { Q::one() } else { Q::zero() };
            let mut scope: Vec<(String, Q)> = env.to_vec();
            for k in from..=to {
                scope.push((var.clone(), number::integer(k)));
                let term = exact_in(body, &scope, budget)?;
                scope.pop();
                let Some(term) = term else { return Ok(None) };
                let next = if *product {
                    number::mul(&total, &term)
                } else {
                    number::add(&total, &term)
                };
                total = match next {
                    Some(t) => t,
                    None => return Ok(None),
                };
            }
            Some(total)
        }
        _ => None,
    })
}

fn integer_bound(q: &Q) -> Option<i64> {
    if q.is_integer() {
        q.to_integer().to_i64().filter(|v| v.abs() < 1 << 40)
    } else {
        None
    }
}

// ---------------------------------------------------------------- numeric evaluation

#[derive(Clone, Copy, Debug)]
pub struct C {
    pub re: f64,
    pub im: f64,
}

impl C {
    const fn real(re: f64) -> C {
        C { re, im: 0.0 }
    }
    fn nan() -> C {
        C::real(f64::NAN)
    }
    fn add(self, o: C) -> C {
        C {
            re: self.re + o.re,
            im: self.im + o.im,
        }
    }
    fn neg(self) -> C {
        C {
            re: -self.re,
            im: -self.im,
        }
    }
    fn mul(self, o: C) -> C {
        C {
            re: self.re * o.re - self.im * o.im,
            im: self.re * o.im + self.im * o.re,
        }
    }
    fn div(self, o: C) -> C {
        let d = o.re * o.re + o.im * o.im;
        if d == 0.0 {
            return C::nan();
        }
        C {
            re: (self.re * o.re + self.im * o.im) / d,
            im: (self.im * o.re - self.re * o.im) / d,
        }
    }
    fn abs(self) -> f64 {
        self.re.hypot(self.im)
    }
    fn ln(self) -> C {
        C {
            re: self.abs().ln(),
            im: self.im.atan2(self.re),
        }
    }
    fn exp(self) -> C {
        let r = self.re.exp();
        C {
            re: r * self.im.cos(),
            im: r * self.im.sin(),
        }
    }
    pub fn is_real(self) -> bool {
        self.im.abs() <= 1e-12 * self.re.abs().max(1.0)
    }
    pub fn is_finite(self) -> bool {
        self.re.is_finite() && self.im.is_finite()
    }
    fn pow(self, e: C) -> C {
        if e.is_real() && e.re.fract() == 0.0 && e.re.abs() <= 64.0 {
            let mut result = C::real(1.0);
            for _ in 0..e.re.abs() as u32 {
                result = result.mul(self);
            }
            return if e.re < 0.0 {
                C::real(1.0).div(result)
            } else {
                result
            };
        }
        if self.is_real() && self.re > 0.0 && e.is_real() {
            return C::real(self.re.powf(e.re));
        }
        if self.abs() == 0.0 {
            return if e.re > 0.0 { C::real(0.0) } else { C::nan() };
        }
        e.mul(self.ln()).exp()
    }
}

fn real_function(name: &str, x: f64) -> f64 {
    match name {
        "sin" => x.sin(),
        "cos" => x.cos(),
        "tan" => x.tan(),
        "cot" => 1.0 / x.tan(),
        "sec" => 1.0 / x.cos(),
        "csc" => 1.0 / x.sin(),
        "arcsin" => x.asin(),
        "arccos" => x.acos(),
        "arctan" => x.atan(),
        "sinh" => x.sinh(),
        "cosh" => x.cosh(),
        "tanh" => x.tanh(),
        "ln" => x.ln(),
        "exp" => x.exp(),
        "abs" => x.abs(),
        "floor" => x.floor(),
        "ceil" => x.ceil(),
        _ => f64::NAN,
    }
}

/// The value at `point` (free variables bound there); NaN where undefined, inf where it overflows.
pub fn evaluate(expr: &Expr, point: Bindings<f64>, budget: &mut Budget) -> Result<C, TimedOut> {
    let mut scope: Vec<(String, f64)> = point.to_vec();
    eval_in(expr, &mut scope, budget)
}

fn eval_in(expr: &Expr, env: &mut Vec<(String, f64)>, budget: &mut Budget) -> Result<C, TimedOut> {
    if !budget.tick()? {
        return Ok(C::nan());
    }
    Ok(match expr {
        Expr::Num(d) => C::real(d.to_f64()),
        Expr::Var(name) => C::real(
            env.iter()
                .rev()
                .find(|(n, _)| n == name)
                .map_or(f64::NAN, |(_, v)| *v),
        ),
        Expr::Pi => C::real(std::f64::consts::PI),
        Expr::E => C::real(std::f64::consts::E),
        Expr::I => C { re: 0.0, im: 1.0 },
        Expr::Infinity => C::real(f64::INFINITY),
        Expr::Neg(a) => eval_in(a, env, budget)?.neg(),
        Expr::Add(terms) => {
            let mut total = C::real(0.0);
            for t in terms {
                total = total.add(eval_in(t, env, budget)?);
            }
            total
        }
        Expr::Mul(factors) => {
            let mut total = C::real(1.0);
            for f in factors {
                total = total.mul(eval_in(f, env, budget)?);
            }
            total
        }
        Expr::Div(a, b) => eval_in(a, env, budget)?.div(eval_in(b, env, budget)?),
        Expr::Pow(a, b) => eval_in(a, env, budget)?.pow(eval_in(b, env, budget)?),
        Expr::Root(a, n) => {
            let (v, n) = (eval_in(a, env, budget)?, eval_in(n, env, budget)?);
            let odd = n.is_real() && n.re.fract() == 0.0 && (n.re as i64) % 2 != 0;
            if v.is_real() && v.re < 0.0 && odd {
                C::real(-(-v.re).powf(1.0 / n.re))
            } else if v.is_real() && v.re >= 0.0 && n.is_real() {
                C::real(v.re.powf(1.0 / n.re))
            } else {
                v.pow(C::real(1.0).div(n))
            }
        }
        Expr::Factorial(a) => {
            let v = eval_in(a, env, budget)?;
            if v.is_real() && v.re >= 0.0 && v.re.fract() == 0.0 && v.re <= 170.0 {
                C::real((1..=v.re as u32).map(f64::from).product())
            } else {
                C::nan()
            }
        }
        Expr::Binom(n, k) => {
            let (n, k) = (eval_in(n, env, budget)?, eval_in(k, env, budget)?);
            if n.is_real() && k.is_real() && k.re.fract() == 0.0 && (0.0..=170.0).contains(&k.re) {
                let mut result = 1.0;
                for i in 0..k.re as u32 {
                    result = result * (n.re - f64::from(i)) / f64::from(i + 1);
                }
                C::real(result)
            } else {
                C::nan()
            }
        }
        Expr::Func(name, a) => {
            let v = eval_in(a, env, budget)?;
            match *name {
                "abs" => C::real(v.abs()),
                "exp" => v.exp(),
                "ln" if !(v.is_real() && v.re > 0.0) => v.ln(),
                _ if v.is_real() => C::real(real_function(name, v.re)),
                _ => C::nan(),
            }
        }
        Expr::Log(base, a) => {
            let (b, v) = (eval_in(base, env, budget)?, eval_in(a, env, budget)?);
            v.ln().div(b.ln())
        }
        Expr::Percent(a) => eval_in(a, env, budget)?.div(C::real(100.0)),
        Expr::Series {
            product,
            var,
            from,
            to,
            body,
        } => {
            let (from, to) = (eval_in(from, env, budget)?, eval_in(to, env, budget)?);
            let whole = |v: C| {
                (v.is_real() && v.re.fract() == 0.0 && v.re.abs() < 1e12).then_some(v.re as i64)
            };
            match (whole(from), whole(to)) {
                (Some(a), Some(b)) if b - a < MAX_SERIES_TERMS => {
                    let mut total = C::real(if *product { 1.0 } else { 0.0 });
                    for k in a..=b {
                        env.push((var.clone(), k as f64));
                        let term = eval_in(body, env, budget);
                        env.pop();
                        let term = term?;
                        total = if *product {
                            total.mul(term)
                        } else {
                            total.add(term)
                        };
                    }
                    total
                }
                _ => C::nan(),
            }
        }
        Expr::PlusMinus(..) => C::nan(),
    })
}

/// Free variables, each with whether it must take integer values (a bound of a series, the
/// argument of a factorial or binomial).
pub fn variables(expr: &Expr, out: &mut Vec<(String, bool)>) {
    collect_variables(expr, false, &[], out);
}

fn collect_variables(expr: &Expr, integer: bool, bound: &[&str], out: &mut Vec<(String, bool)>) {
    match expr {
        Expr::Var(name) if !bound.contains(&name.as_str()) => {
            match out.iter_mut().find(|(n, _)| n == name) {
                Some(entry) => entry.1 |= integer,
                None => out.push((name.clone(), integer)),
            }
        }
        Expr::Series {
            var,
            from,
            to,
            body,
            ..
        } => {
            collect_variables(from, true, bound, out);
            collect_variables(to, true, bound, out);
            let mut inner: Vec<&str> = bound.to_vec();
            inner.push(var);
            collect_variables(body, integer, &inner, out);
        }
        Expr::Factorial(a) => collect_variables(a, true, bound, out),
        Expr::Binom(a, b) => {
            collect_variables(a, true, bound, out);
            collect_variables(b, true, bound, out);
        }
        other => {
            for child in children(other) {
                collect_variables(child, integer, bound, out);
            }
        }
    }
}

/// Deterministic sample points for `names`: integers 2..=13 for integer variables, reals in
/// [0.6, 2.6) otherwise.
pub fn sample_points(names: &[(String, bool)], count: usize) -> Vec<Vec<(String, f64)>> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..count)
        .map(|_| {
            names
                .iter()
                .map(|(name, integer)| {
                    let u = next();
                    let value = if *integer {
                        (2.0 + 12.0 * u).floor()
                    } else {
                        0.6 + 2.0 * u
                    };
                    (name.clone(), value)
                })
                .collect()
        })
        .collect()
}

// ---------------------------------------------------------------- equivalence

/// Relative difference treated as rounding noise when comparing two evaluations of exact values.
const EVALUATION_NOISE: f64 = 1e-9;
const SAMPLES: usize = 6;

fn close(a: C, b: C, tolerance: f64) -> bool {
    let near = |x: f64, y: f64, scale: f64| (x - y).abs() <= tolerance * scale;
    let scale = a.abs().max(b.abs()).max(f64::MIN_POSITIVE);
    near(a.re, b.re, scale) && near(a.im, b.im, scale)
}

/// Whether two values agree under the tolerance rule, given how precisely each was written.
fn agree(a: C, pa: Precision, b: C, pb: Precision) -> bool {
    match (pa, pb) {
        (Precision::Literal(places), Precision::Exact) => {
            b.is_real() && a.is_real() && number::decimal_approximates_f64(a.re, places, b.re)
        }
        (Precision::Exact, Precision::Literal(_)) => agree(b, pb, a, pa),
        (Precision::Approximate, Precision::Exact) | (Precision::Exact, Precision::Approximate) => {
            close(a, b, number::RELATIVE_TOLERANCE)
        }
        _ => close(a, b, EVALUATION_NOISE),
    }
}

/// Whether `a` and `b` denote the same value (for all values of their free variables).
pub fn equivalent(a: &Expr, b: &Expr, deadline: &Deadline) -> Result<bool, TimedOut> {
    match (a, b) {
        (Expr::Percent(x), Expr::Percent(y)) => return equivalent(x, y, deadline),
        // "28\%" answers 28 and 0.28 alike.
        (Expr::Percent(x), other) | (other, Expr::Percent(x)) => {
            return Ok(equivalent(x, other, deadline)? || same_value(a, b, deadline)?);
        }
        _ => {}
    }
    same_value(a, b, deadline)
}

fn same_value(a: &Expr, b: &Expr, deadline: &Deadline) -> Result<bool, TimedOut> {
    let (ca, cb) = (canonical(a), canonical(b));
    if ca == cb {
        return Ok(true);
    }
    if contains_infinity(&ca) || contains_infinity(&cb) {
        return Ok(false);
    }
    let (pa, pb) = (precision(a), precision(b));
    let mut budget = Budget::new(deadline);
    if let (Some(x), Some(y)) = (exact(&ca, &mut budget)?, exact(&cb, &mut budget)?) {
        return Ok(x == y
            || match (pa, pb) {
                (Precision::Literal(places), Precision::Exact) => {
                    number::decimal_approximates(&x, places, &y)
                }
                (Precision::Exact, Precision::Literal(places)) => {
                    number::decimal_approximates(&y, places, &x)
                }
                (Precision::Approximate, Precision::Exact)
                | (Precision::Exact, Precision::Approximate) => {
                    (&x - &y).abs() * number::integer(1_000_000) <= x.abs().max(y.abs())
                }
                _ => false,
            });
    }
    let mut names = Vec::new();
    variables(&ca, &mut names);
    variables(&cb, &mut names);
    let mut agreeing = 0;
    for point in sample_points(&names, SAMPLES) {
        let (va, vb) = (
            evaluate(&ca, &point, &mut budget)?,
            evaluate(&cb, &point, &mut budget)?,
        );
        match (va.is_finite(), vb.is_finite()) {
            (true, true) if agree(va, pa, vb, pb) => agreeing += 1,
            (true, true) => return Ok(false),
            // Undefined on both sides, or beyond f64 on either: this point decides nothing.
            (false, false) => {}
            (true, false) | (false, true) => {
                let overflow = |v: C| v.re.is_infinite() || v.im.is_infinite();
                if !(overflow(va) || overflow(vb)) {
                    return Ok(false);
                }
            }
        }
    }
    Ok(agreeing > 0)
}
