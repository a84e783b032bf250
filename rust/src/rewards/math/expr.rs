//! A small LaTeX expression language: parse an answer into [`Expr`], then decide equivalence exactly
//! with rationals when both sides are rational, else by evaluating both sides (complex f64) at the same
//! pseudo-random points. Nothing from the response is ever executed.

use crate::rewards::{Deadline, TimedOut};

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A decimal literal as `numerator / 10^scale`, kept exact.
    Num {
        digits: String,
        scale: u32,
    },
    Var(String),
    Pi,
    E,
    I,
    Infinity,
    Neg(Box<Expr>),
    Add(Box<Expr>, Box<Expr>),
    Mul(Box<Expr>, Box<Expr>),
    Div(Box<Expr>, Box<Expr>),
    Pow(Box<Expr>, Box<Expr>),
    Sqrt(Box<Expr>),
    Root(Box<Expr>, Box<Expr>),
    Factorial(Box<Expr>),
    Func(&'static str, Box<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Num(String),
    Letter(char),
    Word(String),
    Cmd(String),
    Op(char),
    Open(char),
    Close(char),
}

const MAX_DEPTH: usize = 60;
const MAX_TOKENS: usize = 4000;
const FUNCTIONS: [&str; 15] = [
    "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "ln", "log", "exp",
    "sinh", "cosh", "tanh",
];
const GREEK: [&str; 20] = [
    "alpha", "beta", "gamma", "delta", "epsilon", "theta", "lambda", "mu", "nu", "rho", "sigma",
    "tau", "phi", "omega", "psi", "chi", "eta", "zeta", "kappa", "xi",
];

fn tokenize(text: &str) -> Option<Vec<Token>> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() || c == '~' {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            let number: String = chars[start..i].iter().collect();
            tokens.push(Token::Num(if number.starts_with('.') {
                format!("0{number}")
            } else {
                number
            }));
        } else if c == '\\' {
            let start = i + 1;
            i += 1;
            while i < chars.len() && chars[i].is_ascii_alphabetic() {
                i += 1;
            }
            if i == start {
                // `\,` `\;` `\ ` are spacing; `\{` `\}` are not part of a scalar expression.
                match chars.get(i) {
                    Some(',' | ';' | ' ' | ':' | '!') => i += 1,
                    _ => return None,
                }
                continue;
            }
            tokens.push(Token::Cmd(chars[start..i].iter().collect()));
        } else if c.is_ascii_alphabetic() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_alphabetic() {
                i += 1;
            }
            let run: String = chars[start..i].iter().collect();
            if FUNCTIONS.contains(&run.as_str()) {
                tokens.push(Token::Cmd(run));
            } else if run.len() <= 2 {
                tokens.extend(run.chars().map(Token::Letter));
            } else {
                // A longer run of letters is a word: the answer is text, not a product of variables.
                tokens.push(Token::Word(run));
            }
        } else if "+-*/^_!".contains(c) {
            tokens.push(Token::Op(c));
            i += 1;
        } else if "({[".contains(c) {
            tokens.push(Token::Open(c));
            i += 1;
        } else if ")}]".contains(c) {
            tokens.push(Token::Close(c));
            i += 1;
        } else {
            return None;
        }
        if tokens.len() > MAX_TOKENS {
            return None;
        }
    }
    Some(tokens)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    deadline: &'a Deadline,
}

type Parsed = Result<Option<Expr>, TimedOut>;

macro_rules! some_or_none {
    ($e:expr) => {
        match $e? {
            Some(v) => v,
            None => return Ok(None),
        }
    };
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn eat_op(&mut self, op: char) -> bool {
        if self.peek() == Some(&Token::Op(op)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn enter(&mut self) -> Result<bool, TimedOut> {
        if self.deadline.expired() {
            return Err(TimedOut);
        }
        self.depth += 1;
        Ok(self.depth <= MAX_DEPTH)
    }

    fn sum(&mut self) -> Parsed {
        if !self.enter()? {
            return Ok(None);
        }
        let mut left = some_or_none!(self.product());
        loop {
            if self.eat_op('+') {
                let right = some_or_none!(self.product());
                left = Expr::Add(Box::new(left), Box::new(right));
            } else if self.eat_op('-') {
                let right = some_or_none!(self.product());
                left = Expr::Add(Box::new(left), Box::new(Expr::Neg(Box::new(right))));
            } else {
                break;
            }
        }
        self.depth -= 1;
        Ok(Some(left))
    }

    fn product(&mut self) -> Parsed {
        let mut left = some_or_none!(self.unary());
        loop {
            let divide = match self.peek() {
                Some(Token::Op('*')) => false,
                Some(Token::Op('/')) => true,
                Some(Token::Cmd(c)) if c == "cdot" || c == "times" => false,
                Some(Token::Cmd(c)) if c == "div" => true,
                Some(Token::Num(_) | Token::Letter(_) | Token::Open(_) | Token::Cmd(_)) => {
                    let right = some_or_none!(self.power());
                    left = Expr::Mul(Box::new(left), Box::new(right));
                    continue;
                }
                _ => break,
            };
            self.pos += 1;
            let right = some_or_none!(self.unary());
            left = if divide {
                Expr::Div(Box::new(left), Box::new(right))
            } else {
                Expr::Mul(Box::new(left), Box::new(right))
            };
        }
        Ok(Some(left))
    }

    fn unary(&mut self) -> Parsed {
        if self.eat_op('-') {
            if !self.enter()? {
                return Ok(None);
            }
            let inner = some_or_none!(self.unary());
            self.depth -= 1;
            return Ok(Some(Expr::Neg(Box::new(inner))));
        }
        if self.eat_op('+') {
            return self.unary();
        }
        self.power()
    }

    fn power(&mut self) -> Parsed {
        let mut base = some_or_none!(self.atom());
        while self.eat_op('!') {
            base = Expr::Factorial(Box::new(base));
        }
        if self.eat_op('^') {
            if !self.enter()? {
                return Ok(None);
            }
            let exponent = if self.eat_op('-') {
                Expr::Neg(Box::new(some_or_none!(self.atom())))
            } else {
                some_or_none!(self.atom())
            };
            self.depth -= 1;
            return Ok(Some(Expr::Pow(Box::new(base), Box::new(exponent))));
        }
        Ok(Some(base))
    }

    /// `{...}` or a single atom: the argument of `\frac`, `\sqrt`, a function.
    fn argument(&mut self) -> Parsed {
        if let Some(Token::Num(n)) = self.peek().cloned() {
            // `\frac12`: a bare digit string is one argument per digit.
            if n.len() > 1 && !n.contains('.') {
                let first = n[..1].to_string();
                self.tokens[self.pos] = Token::Num(n[1..].to_string());
                return Ok(Some(number(&first)));
            }
        }
        self.atom()
    }

    fn atom(&mut self) -> Parsed {
        if !self.enter()? {
            return Ok(None);
        }
        let Some(token) = self.peek().cloned() else {
            return Ok(None);
        };
        self.pos += 1;
        let expr = match token {
            Token::Num(n) => {
                let whole = number(&n);
                // Mixed number: `3\frac{1}{2}` is 3 + 1/2.
                if !n.contains('.') && self.peek() == Some(&Token::Cmd("frac".into())) {
                    let save = self.pos;
                    self.pos += 1;
                    match (self.argument()?, self.argument()?) {
                        (Some(a @ Expr::Num { .. }), Some(b @ Expr::Num { .. })) => Expr::Add(
                            Box::new(whole),
                            Box::new(Expr::Div(Box::new(a), Box::new(b))),
                        ),
                        _ => {
                            self.pos = save;
                            whole
                        }
                    }
                } else {
                    whole
                }
            }
            Token::Letter('e') => Expr::E,
            Token::Letter('i') => Expr::I,
            Token::Letter(c) => self.subscripted(c.to_string()),
            Token::Open(open) => {
                let inner = some_or_none!(self.sum());
                let close = match open {
                    '(' => ')',
                    '[' => ']',
                    _ => '}',
                };
                if self.peek() != Some(&Token::Close(close)) {
                    return Ok(None);
                }
                self.pos += 1;
                inner
            }
            Token::Cmd(cmd) => some_or_none!(self.command(&cmd)),
            Token::Word(_) | Token::Op(_) | Token::Close(_) => return Ok(None),
        };
        self.depth -= 1;
        Ok(Some(expr))
    }

    fn subscripted(&mut self, name: String) -> Expr {
        if self.peek() == Some(&Token::Op('_')) {
            if let Some(Token::Num(n) | Token::Word(n)) = self.tokens.get(self.pos + 1).cloned() {
                self.pos += 2;
                return Expr::Var(format!("{name}_{n}"));
            }
            if let Some(Token::Letter(c)) = self.tokens.get(self.pos + 1).cloned() {
                self.pos += 2;
                return Expr::Var(format!("{name}_{c}"));
            }
        }
        Expr::Var(name)
    }

    fn command(&mut self, cmd: &str) -> Parsed {
        let expr = match cmd {
            "frac" | "dfrac" | "tfrac" => {
                let top = some_or_none!(self.argument());
                let bottom = some_or_none!(self.argument());
                Expr::Div(Box::new(top), Box::new(bottom))
            }
            "sqrt" => {
                if self.peek() == Some(&Token::Open('[')) {
                    self.pos += 1;
                    let index = some_or_none!(self.sum());
                    if self.peek() != Some(&Token::Close(']')) {
                        return Ok(None);
                    }
                    self.pos += 1;
                    let radicand = some_or_none!(self.argument());
                    Expr::Root(Box::new(radicand), Box::new(index))
                } else {
                    Expr::Sqrt(Box::new(some_or_none!(self.argument())))
                }
            }
            "pi" => Expr::Pi,
            "infty" | "infinity" => Expr::Infinity,
            "text" | "mathrm" | "mbox" | "textbf" | "mathbf" | "operatorname" => {
                some_or_none!(self.argument())
            }
            name if GREEK.contains(&name) => self.subscripted(name.to_string()),
            name => match FUNCTIONS.iter().find(|f| **f == name) {
                Some(function) => {
                    // `\sin^2 x` is (sin x)^2.
                    let power = if self.eat_op('^') {
                        Some(some_or_none!(self.atom()))
                    } else {
                        None
                    };
                    let argument = some_or_none!(self.power());
                    let applied = Expr::Func(function, Box::new(argument));
                    match power {
                        Some(p) => Expr::Pow(Box::new(applied), Box::new(p)),
                        None => applied,
                    }
                }
                None => return Ok(None),
            },
        };
        Ok(Some(expr))
    }
}

fn number(text: &str) -> Expr {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    Expr::Num {
        digits: format!("{int}{frac}"),
        scale: frac.len() as u32,
    }
}

/// Parse a normalised answer string; `Ok(None)` when it is not an expression we understand.
pub fn parse(text: &str, deadline: &Deadline) -> Result<Option<Expr>, TimedOut> {
    let Some(tokens) = tokenize(text) else {
        return Ok(None);
    };
    if tokens.is_empty() {
        return Ok(None);
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
        deadline,
    };
    let expr = parser.sum()?;
    Ok(expr.filter(|_| parser.pos == parser.tokens.len()))
}

// ---------------------------------------------------------------- exact rationals

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ratio {
    num: i128,
    den: i128,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.abs()
}

impl Ratio {
    fn new(num: i128, den: i128) -> Option<Ratio> {
        if den == 0 {
            return None;
        }
        let g = gcd(num, den).max(1);
        let sign = if den < 0 { -1 } else { 1 };
        Some(Ratio {
            num: sign * num / g,
            den: sign * den / g,
        })
    }

    fn add(self, o: Ratio) -> Option<Ratio> {
        Ratio::new(
            self.num
                .checked_mul(o.den)?
                .checked_add(o.num.checked_mul(self.den)?)?,
            self.den.checked_mul(o.den)?,
        )
    }

    fn mul(self, o: Ratio) -> Option<Ratio> {
        Ratio::new(self.num.checked_mul(o.num)?, self.den.checked_mul(o.den)?)
    }

    fn recip(self) -> Option<Ratio> {
        Ratio::new(self.den, self.num)
    }

    fn pow(self, exponent: Ratio) -> Option<Ratio> {
        if exponent.den != 1 || exponent.num.abs() > 256 {
            return None;
        }
        let base = if exponent.num < 0 {
            self.recip()?
        } else {
            self
        };
        let mut result = Ratio { num: 1, den: 1 };
        for _ in 0..exponent.num.abs() {
            result = result.mul(base)?;
        }
        Some(result)
    }
}

fn exact(expr: &Expr, deadline: &Deadline) -> Option<Ratio> {
    if deadline.expired() {
        return None;
    }
    match expr {
        Expr::Num { digits, scale } => {
            let num: i128 = digits.parse().ok()?;
            Ratio::new(num, 10i128.checked_pow(*scale)?)
        }
        Expr::Neg(a) => exact(a, deadline)?.mul(Ratio { num: -1, den: 1 }),
        Expr::Add(a, b) => exact(a, deadline)?.add(exact(b, deadline)?),
        Expr::Mul(a, b) => exact(a, deadline)?.mul(exact(b, deadline)?),
        Expr::Div(a, b) => exact(a, deadline)?.mul(exact(b, deadline)?.recip()?),
        Expr::Pow(a, b) => exact(a, deadline)?.pow(exact(b, deadline)?),
        _ => None,
    }
}

// ---------------------------------------------------------------- complex evaluation

#[derive(Clone, Copy, Debug)]
struct C {
    re: f64,
    im: f64,
}

impl C {
    const fn real(re: f64) -> C {
        C { re, im: 0.0 }
    }
    fn add(self, o: C) -> C {
        C {
            re: self.re + o.re,
            im: self.im + o.im,
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
            return C::real(f64::NAN);
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
    fn is_real(self) -> bool {
        self.im.abs() <= 1e-12 * self.re.abs().max(1.0)
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
            return C::real(0.0);
        }
        e.mul(self.ln()).exp()
    }
    fn sqrt(self) -> C {
        if self.is_real() && self.re >= 0.0 {
            return C::real(self.re.sqrt());
        }
        self.pow(C::real(0.5))
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
        "ln" => x.ln(),
        "log" => x.log10(),
        "exp" => x.exp(),
        "sinh" => x.sinh(),
        "cosh" => x.cosh(),
        _ => x.tanh(),
    }
}

fn eval(
    expr: &Expr,
    point: &dyn Fn(&str) -> f64,
    steps: &mut u32,
    deadline: &Deadline,
) -> Result<C, TimedOut> {
    *steps += 1;
    if *steps % 256 == 0 && deadline.expired() {
        return Err(TimedOut);
    }
    let mut go = |e: &Expr| eval(e, point, steps, deadline);
    Ok(match expr {
        Expr::Num { digits, scale } => C::real(
            digits.parse::<f64>().unwrap_or(f64::NAN) / 10f64.powi((*scale).min(400) as i32),
        ),
        Expr::Var(name) => C::real(point(name)),
        Expr::Pi => C::real(std::f64::consts::PI),
        Expr::E => C::real(std::f64::consts::E),
        Expr::I => C { re: 0.0, im: 1.0 },
        Expr::Infinity => C::real(f64::INFINITY),
        Expr::Neg(a) => {
            let v = go(a)?;
            C {
                re: -v.re,
                im: -v.im,
            }
        }
        Expr::Add(a, b) => go(a)?.add(go(b)?),
        Expr::Mul(a, b) => go(a)?.mul(go(b)?),
        Expr::Div(a, b) => go(a)?.div(go(b)?),
        Expr::Pow(a, b) => go(a)?.pow(go(b)?),
        Expr::Sqrt(a) => go(a)?.sqrt(),
        Expr::Root(a, n) => {
            let (v, n) = (go(a)?, go(n)?);
            if v.is_real()
                && v.re < 0.0
                && n.is_real()
                && n.re.fract() == 0.0
                && n.re as i64 % 2 == 1
            {
                C::real(-(-v.re).powf(1.0 / n.re))
            } else {
                v.pow(C::real(1.0).div(n))
            }
        }
        Expr::Factorial(a) => {
            let v = go(a)?;
            if v.is_real() && v.re >= 0.0 && v.re.fract() == 0.0 && v.re <= 170.0 {
                C::real((1..=v.re as u32).map(f64::from).product())
            } else {
                C::real(f64::NAN)
            }
        }
        Expr::Func(name, a) => {
            let v = go(a)?;
            if v.is_real() {
                C::real(real_function(name, v.re))
            } else {
                C::real(f64::NAN)
            }
        }
    })
}

fn variables(expr: &Expr, out: &mut Vec<String>) {
    match expr {
        Expr::Var(name) if !out.contains(name) => out.push(name.clone()),
        Expr::Neg(a) | Expr::Sqrt(a) | Expr::Factorial(a) | Expr::Func(_, a) => variables(a, out),
        Expr::Add(a, b)
        | Expr::Mul(a, b)
        | Expr::Div(a, b)
        | Expr::Pow(a, b)
        | Expr::Root(a, b) => {
            variables(a, out);
            variables(b, out);
        }
        _ => {}
    }
}

fn close(a: C, b: C) -> bool {
    let close_f = |x: f64, y: f64| {
        if x.is_infinite() || y.is_infinite() {
            return x == y;
        }
        (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
    };
    close_f(a.re, b.re) && close_f(a.im, b.im)
}

/// Whether two expressions denote the same value (for all values of their variables).
pub fn equivalent(a: &Expr, b: &Expr, deadline: &Deadline) -> Result<bool, TimedOut> {
    if a == b {
        return Ok(true);
    }
    if let (Some(x), Some(y)) = (exact(a, deadline), exact(b, deadline)) {
        return Ok(x == y);
    }
    if deadline.expired() {
        return Err(TimedOut);
    }
    let mut names = Vec::new();
    variables(a, &mut names);
    variables(b, &mut names);
    // Deterministic pseudo-random points in [0.6, 2.6): positive, to stay inside sqrt/log domains.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut agreeing = 0;
    for _ in 0..6 {
        let values: Vec<f64> = names
            .iter()
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                0.6 + 2.0 * ((state >> 11) as f64 / (1u64 << 53) as f64)
            })
            .collect();
        let point = |name: &str| {
            names
                .iter()
                .position(|n| n == name)
                .map_or(f64::NAN, |i| values[i])
        };
        let mut steps = 0;
        let (va, vb) = (
            eval(a, &point, &mut steps, deadline)?,
            eval(b, &point, &mut steps, deadline)?,
        );
        let finite = |v: C| !v.re.is_nan() && !v.im.is_nan();
        match (finite(va), finite(vb)) {
            (true, true) if close(va, vb) => agreeing += 1,
            (false, false) => {}
            _ => return Ok(false),
        }
    }
    Ok(agreeing > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn same(a: &str, b: &str) -> bool {
        let deadline = Deadline::after(Duration::from_secs(5));
        let (Some(x), Some(y)) = (parse(a, &deadline).unwrap(), parse(b, &deadline).unwrap())
        else {
            panic!("could not parse {a:?} or {b:?}");
        };
        equivalent(&x, &y, &deadline).unwrap()
    }

    #[test]
    fn numbers() {
        assert!(same("0.5", "\\frac{1}{2}"));
        assert!(same("\\frac12", "0.5"));
        assert!(same("3\\frac{1}{2}", "\\frac{7}{2}"));
        assert!(same("2.50", "5/2"));
        assert!(!same("0.333", "\\frac13"));
        assert!(same("3\\times10^{5}", "300000"));
        assert!(same("2^{-1}", "0.5"));
    }

    #[test]
    fn radicals_and_constants() {
        assert!(same("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt2}"));
        assert!(same("2\\sqrt{3}", "\\sqrt{12}"));
        assert!(same("\\sqrt[3]{8}", "2"));
        assert!(same("\\frac{\\pi}{2}", "0.5\\pi"));
        assert!(!same("\\sqrt{2}", "1.414"));
        assert!(same("(1+i)^2", "2i"));
    }

    #[test]
    fn symbolic() {
        assert!(same("2x+3", "3+x\\cdot2"));
        assert!(same("(x+1)^2", "x^2+2x+1"));
        assert!(!same("(x+1)^2", "x^2+1"));
        assert!(!same("2x", "2y"));
        assert!(same("\\sin^2 x+\\cos^2 x", "1"));
    }

    #[test]
    fn words_are_not_products() {
        let deadline = Deadline::after(Duration::from_secs(1));
        assert_eq!(parse("Monday", &deadline).unwrap(), None);
    }

    #[test]
    fn deep_nesting_is_rejected_quickly() {
        let deadline = Deadline::after(Duration::from_secs(1));
        let bomb = "\\frac{".repeat(5000) + "1" + &"}{2}".repeat(5000);
        assert_eq!(parse(&bomb, &deadline).unwrap(), None);
        let tower = "2^{".repeat(12) + "9" + &"}".repeat(12);
        let expr = parse(&tower, &deadline).unwrap().unwrap();
        let two = parse("2", &deadline).unwrap().unwrap();
        assert!(!equivalent(&expr, &two, &deadline).unwrap());
    }
}
