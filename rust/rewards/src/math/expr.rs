//! Scalar expressions: parse normalised LaTeX into [`Expr`]; [`super::value`] computes their values
//! and decides whether two denote the same value. Nothing from the response is ever executed.
//!
//! Equivalence, in order (see the `math` module docs for the tolerance rule):
//! 1. the same tree up to the order of terms and factors ([`canonical`]): `\sum_k (1+k)` = `\sum_k (k+1)`;
//! 2. exact rational arithmetic of any size when both sides are rational ([`number`]);
//! 3. evaluation (complex f64) at deterministic sample points of the free variables: integer points
//!    for variables used as summation bounds or factorial arguments, reals in [0.6, 2.6) otherwise.
//!    An evaluation that overflows f64 decides nothing: such a pair is equal only by 1. or 2.

use super::number::Decimal;
pub use super::value::{equivalent, evaluate, exact, sample_points, variables, Budget, C};
use crate::{Deadline, TimedOut};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Expr {
    Num(Decimal),
    Var(String),
    Pi,
    E,
    I,
    Infinity,
    Neg(Box<Expr>),
    Add(Vec<Expr>),
    Mul(Vec<Expr>),
    Div(Box<Expr>, Box<Expr>),
    Pow(Box<Expr>, Box<Expr>),
    /// `Root(radicand, index)`.
    Root(Box<Expr>, Box<Expr>),
    Factorial(Box<Expr>),
    Func(&'static str, Box<Expr>),
    /// `Log(base, argument)`.
    Log(Box<Expr>, Box<Expr>),
    Binom(Box<Expr>, Box<Expr>),
    /// `\sum` (or `\prod` when `product`) of `body` for `var` from `from` to `to`.
    Series {
        product: bool,
        var: String,
        from: Box<Expr>,
        to: Box<Expr>,
        body: Box<Expr>,
    },
    Percent(Box<Expr>),
    /// `\pm x` (or `\mp x` when the flag is set); [`expand_plus_minus`] turns these into plain trees.
    PlusMinus(Box<Expr>, bool),
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Num(Decimal),
    Letter(char),
    Word(String),
    Cmd(String),
    Op(char),
    Open(char),
    Close(char),
}

const MAX_DEPTH: usize = 80;
const MAX_TOKENS: usize = 4000;
const FUNCTIONS: [&str; 19] = [
    "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
    "ln", "log", "exp", "lg", "abs", "floor", "ceil",
];
const GREEK: [&str; 33] = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "vartheta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "varphi",
    "chi",
    "psi",
    "omega",
    "Gamma",
    "Delta",
    "Theta",
    "Lambda",
    "Sigma",
    "Phi",
    "Psi",
    "Omega",
];
/// Commands that only style their argument.
const STYLES: [&str; 9] = [
    "text",
    "textbf",
    "mathrm",
    "mathbf",
    "mbox",
    "mathit",
    "textit",
    "boldsymbol",
    "operatorname",
];

// ---------------------------------------------------------------- tokens

fn tokenize(text: &str) -> Option<Vec<Token>> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() || c == '~' {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let (decimal, next) = read_number(&chars, i);
            tokens.push(Token::Num(decimal));
            i = next;
        } else if c == '\\' {
            let start = i + 1;
            i += 1;
            while i < chars.len() && chars[i].is_ascii_alphabetic() {
                i += 1;
            }
            if i > start {
                tokens.push(Token::Cmd(chars[start..i].iter().collect()));
                continue;
            }
            match chars.get(i) {
                Some(',' | ';' | ' ' | ':' | '!' | '$') => i += 1,
                Some('%') => {
                    tokens.push(Token::Op('%'));
                    i += 1;
                }
                _ => return None,
            }
        } else if c.is_alphabetic() {
            let start = i;
            while i < chars.len() && chars[i].is_alphabetic() {
                i += 1;
            }
            let run: String = chars[start..i].iter().collect();
            if FUNCTIONS.contains(&run.as_str()) {
                tokens.push(Token::Cmd(run));
            } else if run.chars().count() <= 2 {
                tokens.extend(run.chars().map(Token::Letter));
            } else {
                // A longer run of letters is a word: the answer is text, not a product of variables.
                tokens.push(Token::Word(run));
            }
        } else if "+-*/^_!=|,%".contains(c) {
            tokens.push(Token::Op(c));
            i += 1;
        } else if c == ':' {
            // A ratio `7:32` is a quotient.
            tokens.push(Token::Op('/'));
            i += 1;
        } else if "([{".contains(c) {
            tokens.push(Token::Open(c));
            i += 1;
        } else if ")]}".contains(c) {
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

/// `12`, `1.50`, `.5`, `1e400`, `2.5E-3` starting at `start`.
fn read_number(chars: &[char], start: usize) -> (Decimal, usize) {
    let digits_from = |mut i: usize| {
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let int_end = digits_from(start);
    let integer: String = chars[start..int_end].iter().collect();
    let mut i = int_end;
    let mut fraction = String::new();
    if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
        let end = digits_from(i + 1);
        fraction = chars[i + 1..end].iter().collect();
        i = end;
    }
    let mut exponent = 0i64;
    if matches!(chars.get(i), Some('e' | 'E')) {
        let sign_at = i + 1;
        let negative = chars.get(sign_at) == Some(&'-');
        let digits_at = sign_at + usize::from(matches!(chars.get(sign_at), Some('+' | '-')));
        let end = digits_from(digits_at);
        let followed_by_letter = chars.get(end).is_some_and(|c| c.is_alphabetic());
        if end > digits_at && end - digits_at <= 18 && !followed_by_letter {
            let text: String = chars[digits_at..end].iter().collect();
            if let Ok(value) = text.parse::<i64>() {
                exponent = if negative { -value } else { value };
                i = end;
            }
        }
    }
    (Decimal::parse(&integer, &fraction, exponent), i)
}

// ---------------------------------------------------------------- parser

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    /// Inside `|...|`: a `|` closes instead of starting a new factor.
    bars: usize,
    /// Summation indices in scope (`i`, `e` are then variables, not constants).
    bound: Vec<String>,
    deadline: &'a Deadline,
    /// Calls of `enter`, to poll the clock only now and then.
    calls: u32,
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

fn boxed(e: Expr) -> Box<Expr> {
    Box::new(e)
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_cmd(&self, names: &[&str]) -> bool {
        matches!(self.peek(), Some(Token::Cmd(c)) if names.contains(&c.as_str()))
    }

    fn eat(&mut self, token: &Token) -> bool {
        if self.peek() == Some(token) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_op(&mut self, op: char) -> bool {
        self.eat(&Token::Op(op))
    }

    fn eat_cmd(&mut self, names: &[&str]) -> bool {
        if self.peek_cmd(names) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Guard recursion: `Ok(false)` past the depth limit, `Err` past the deadline.
    fn enter(&mut self) -> Result<bool, TimedOut> {
        self.calls += 1;
        if self.calls % 64 == 0 && self.deadline.expired() {
            return Err(TimedOut);
        }
        self.depth += 1;
        Ok(self.depth <= MAX_DEPTH)
    }

    fn leave<T>(&mut self, value: T) -> Result<Option<T>, TimedOut> {
        self.depth -= 1;
        Ok(Some(value))
    }

    fn sum(&mut self) -> Parsed {
        if !self.enter()? {
            return Ok(None);
        }
        let mut terms = vec![some_or_none!(self.unary())];
        loop {
            if self.eat_op('+') {
                terms.push(some_or_none!(self.unary()));
            } else if self.eat_op('-') {
                terms.push(Expr::Neg(boxed(some_or_none!(self.unary()))));
            } else if self.eat_cmd(&["pm", "mp"]) {
                let minus_first = matches!(&self.tokens[self.pos - 1], Token::Cmd(c) if c == "mp");
                terms.push(Expr::PlusMinus(
                    boxed(some_or_none!(self.product())),
                    minus_first,
                ));
            } else {
                break;
            }
        }
        let expr = if terms.len() == 1 {
            terms.pop().expect("one term")
        } else {
            Expr::Add(terms)
        };
        self.leave(expr)
    }

    fn unary(&mut self) -> Parsed {
        if !self.enter()? {
            return Ok(None);
        }
        let expr = if self.eat_op('-') {
            Expr::Neg(boxed(some_or_none!(self.unary())))
        } else if self.eat_op('+') {
            some_or_none!(self.unary())
        } else if self.eat_cmd(&["pm", "mp"]) {
            let minus_first = matches!(&self.tokens[self.pos - 1], Token::Cmd(c) if c == "mp");
            Expr::PlusMinus(boxed(some_or_none!(self.unary())), minus_first)
        } else {
            some_or_none!(self.product())
        };
        self.leave(expr)
    }

    fn starts_factor(&self) -> bool {
        match self.peek() {
            Some(Token::Num(_) | Token::Letter(_) | Token::Open(_)) => true,
            Some(Token::Op('|')) => self.bars == 0,
            Some(Token::Cmd(c)) => !matches!(
                c.as_str(),
                "cdot" | "times" | "div" | "pm" | "mp" | "rvert" | "rfloor" | "rceil" | "right"
            ),
            _ => false,
        }
    }

    fn product(&mut self) -> Parsed {
        let mut factors = vec![some_or_none!(self.power())];
        loop {
            let divide = if self.eat_op('*') || self.eat_cmd(&["cdot", "times", "ast"]) {
                false
            } else if self.eat_op('/') || self.eat_cmd(&["div"]) {
                true
            } else if self.starts_factor() {
                factors.push(some_or_none!(self.power()));
                continue;
            } else {
                break;
            };
            // `a \cdot -b`: a sign may follow an explicit operator.
            let right = if self.eat_op('-') {
                Expr::Neg(boxed(some_or_none!(self.power())))
            } else {
                some_or_none!(self.power())
            };
            if divide {
                let numerator = if factors.len() == 1 {
                    factors.pop().expect("one factor")
                } else {
                    Expr::Mul(std::mem::take(&mut factors))
                };
                factors = vec![Expr::Div(boxed(numerator), boxed(right))];
            } else {
                factors.push(right);
            }
        }
        Ok(Some(if factors.len() == 1 {
            factors.pop().expect("one factor")
        } else {
            Expr::Mul(factors)
        }))
    }

    fn power(&mut self) -> Parsed {
        if !self.enter()? {
            return Ok(None);
        }
        let mut base = some_or_none!(self.postfix());
        if self.eat_op('^') {
            let exponent = if self.eat_op('-') {
                Expr::Neg(boxed(some_or_none!(self.exponent())))
            } else {
                self.eat_op('+');
                some_or_none!(self.exponent())
            };
            base = Expr::Pow(boxed(base), boxed(exponent));
            // `2^{3}!` is rare; a factorial after a power applies to the power.
            while self.eat_op('!') {
                base = Expr::Factorial(boxed(base));
            }
        }
        self.leave(base)
    }

    /// The exponent: a braced group, or a single atom (`x^2`, `2^n`), right-associative `a^b^c`.
    fn exponent(&mut self) -> Parsed {
        // Unlike TeX, `10^400` means 10^{400}: that is what a model writing it means.
        let atom = if let Some(Token::Num(n)) = self.peek().cloned() {
            self.pos += 1;
            Expr::Num(n)
        } else {
            some_or_none!(self.argument())
        };
        if self.eat_op('^') {
            let inner = some_or_none!(self.exponent());
            return Ok(Some(Expr::Pow(boxed(atom), boxed(inner))));
        }
        Ok(Some(atom))
    }

    fn postfix(&mut self) -> Parsed {
        let mut expr = some_or_none!(self.atom());
        loop {
            if self.eat_op('!') {
                expr = Expr::Factorial(boxed(expr));
            } else if self.eat_op('%') {
                expr = Expr::Percent(boxed(expr));
            } else {
                return Ok(Some(expr));
            }
        }
    }

    /// `{...}` or a single atom: the argument of `\frac`, `\sqrt`, a superscript. A bare digit string
    /// gives one digit per argument, as in TeX (`\frac12`).
    fn argument(&mut self) -> Parsed {
        if let Some(Token::Num(n)) = self.peek().cloned() {
            if n.digits.len() > 1 && !n.fractional && n.exponent == 0 && n.places == 0 {
                let (first, rest) = n.digits.split_at(1);
                self.tokens[self.pos] = Token::Num(Decimal::parse(rest, "", 0));
                return Ok(Some(Expr::Num(Decimal::parse(first, "", 0))));
            }
        }
        if let Some(Token::Letter(_)) = self.peek() {
            // a single letter, without its subscript or implicit product
            let Some(Token::Letter(c)) = self.peek().cloned() else {
                return Ok(None);
            };
            self.pos += 1;
            return Ok(Some(self.letter(c)));
        }
        self.atom()
    }

    fn group(&mut self, open: char) -> Parsed {
        let close = match open {
            '(' => ')',
            '[' => ']',
            _ => '}',
        };
        if self.eat(&Token::Close(close)) {
            return Ok(None);
        }
        let inner = some_or_none!(self.sum());
        if !self.eat(&Token::Close(close)) {
            return Ok(None);
        }
        Ok(Some(inner))
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
                let expr = self.subscripted_number(n);
                // Mixed number: `3\frac{1}{2}` is 3 + 1/2.
                if matches!(&expr, Expr::Num(d) if !d.fractional && d.exponent == 0)
                    && self.peek_cmd(&["frac"])
                {
                    let save = self.pos;
                    self.pos += 1;
                    match (self.argument()?, self.argument()?) {
                        (Some(a @ Expr::Num(_)), Some(b @ Expr::Num(_))) => {
                            Expr::Add(vec![expr, Expr::Div(boxed(a), boxed(b))])
                        }
                        _ => {
                            self.pos = save;
                            expr
                        }
                    }
                } else {
                    expr
                }
            }
            Token::Letter(c) => {
                let letter = self.letter(c);
                self.subscripted(letter)
            }
            Token::Open(open) => some_or_none!(self.group(open)),
            Token::Op('|') if self.bars == 0 => {
                self.bars += 1;
                let inner = self.sum()?;
                self.bars -= 1;
                let inner = some_or_none!(Ok::<_, TimedOut>(inner));
                if !self.eat_op('|') {
                    return Ok(None);
                }
                Expr::Func("abs", boxed(inner))
            }
            Token::Cmd(cmd) => some_or_none!(self.command(&cmd)),
            Token::Word(_) | Token::Op(_) | Token::Close(_) => return Ok(None),
        };
        self.leave(expr)
    }

    fn letter(&self, c: char) -> Expr {
        let name = c.to_string();
        if self.bound.contains(&name) {
            return Expr::Var(name);
        }
        match c {
            'e' => Expr::E,
            'i' => Expr::I,
            _ => Expr::Var(name),
        }
    }

    /// `x_1`, `a_{n}`, `\theta_0`: one variable named with its subscript.
    fn subscripted(&mut self, base: Expr) -> Expr {
        let name = match &base {
            Expr::Var(name) => name.clone(),
            Expr::E => "e".to_string(),
            Expr::I => "i".to_string(),
            _ => return base,
        };
        if self.peek() != Some(&Token::Op('_')) {
            return base;
        }
        match self.subscript_text() {
            Some(sub) => Expr::Var(format!("{name}_{sub}")),
            None => base,
        }
    }

    /// After `_`: a digit string, a letter or a braced run of letters and digits.
    fn subscript_text(&mut self) -> Option<String> {
        let save = self.pos;
        self.pos += 1; // `_`
        let text = match self.peek().cloned() {
            Some(Token::Num(n)) => {
                self.pos += 1;
                Some(n.digits)
            }
            Some(Token::Letter(c)) => {
                self.pos += 1;
                Some(c.to_string())
            }
            Some(Token::Open('{')) => {
                // Any balanced content names the variable: `F_{n-k-1}`, `S_{MBCN}`.
                self.pos += 1;
                let mut text = String::new();
                let mut depth = 0usize;
                loop {
                    match self.peek().cloned() {
                        Some(Token::Num(n)) => text.push_str(&n.digits),
                        Some(Token::Letter(c)) => text.push(c),
                        Some(Token::Word(w)) => text.push_str(&w),
                        Some(Token::Cmd(c)) => {
                            text.push('\\');
                            text.push_str(&c);
                        }
                        Some(Token::Op(c)) => text.push(c),
                        Some(Token::Open(c)) => {
                            depth += 1;
                            text.push(c);
                        }
                        Some(Token::Close('}')) if depth == 0 => break,
                        Some(Token::Close(c)) => {
                            depth = depth.saturating_sub(1);
                            text.push(c);
                        }
                        // Unclosed: not a subscript.
                        None => break,
                    }
                    self.pos += 1;
                }
                // `x_{1}` is `x_1`; other content keeps its braces.
                let name = if text.chars().all(char::is_alphanumeric) {
                    text
                } else {
                    format!("{{{text}}}")
                };
                (!name.is_empty() && self.eat(&Token::Close('}'))).then_some(name)
            }
            _ => None,
        };
        if text.is_none() {
            self.pos = save;
        }
        text
    }

    /// `204_5` (a numeral in base 5) stays an opaque symbol; other numbers are plain.
    fn subscripted_number(&mut self, n: Decimal) -> Expr {
        if self.peek() == Some(&Token::Op('_')) && !n.fractional && n.exponent == 0 {
            if let Some(base) = self.subscript_text() {
                return Expr::Var(format!("{}_{base}", n.digits));
            }
        }
        Expr::Num(n)
    }

    fn command(&mut self, cmd: &str) -> Parsed {
        let expr = match cmd {
            "frac" | "dfrac" | "tfrac" | "cfrac" => {
                let top = some_or_none!(self.argument());
                let bottom = some_or_none!(self.argument());
                Expr::Div(boxed(top), boxed(bottom))
            }
            "sqrt" => {
                if self.eat(&Token::Open('[')) {
                    let index = some_or_none!(self.sum());
                    if !self.eat(&Token::Close(']')) {
                        return Ok(None);
                    }
                    let radicand = some_or_none!(self.argument());
                    Expr::Root(boxed(radicand), boxed(index))
                } else {
                    let radicand = some_or_none!(self.argument());
                    Expr::Root(
                        boxed(radicand),
                        boxed(Expr::Num(Decimal::parse("2", "", 0))),
                    )
                }
            }
            "binom" | "dbinom" | "tbinom" => {
                let n = some_or_none!(self.argument());
                let k = some_or_none!(self.argument());
                Expr::Binom(boxed(n), boxed(k))
            }
            "pi" => Expr::Pi,
            "infty" | "infinity" => Expr::Infinity,
            "imath" => Expr::I,
            "lvert" | "vert" => some_or_none!(self.closed_by("abs", &["rvert", "vert"])),
            "lfloor" => some_or_none!(self.closed_by("floor", &["rfloor"])),
            "lceil" => some_or_none!(self.closed_by("ceil", &["rceil"])),
            "sum" | "prod" => some_or_none!(self.series(cmd == "prod")),
            name if STYLES.contains(&name) => {
                if !self.eat(&Token::Open('{')) {
                    return Ok(None);
                }
                // `\operatorname{lcm}`-style names are not values we know.
                let inner = some_or_none!(self.group('{'));
                if name == "operatorname" {
                    return Ok(None);
                }
                inner
            }
            name if GREEK.contains(&name) => self.subscripted(Expr::Var(name.to_string())),
            name => match FUNCTIONS.iter().find(|f| **f == name) {
                Some(function) => some_or_none!(self.function(function)),
                None => return Ok(None),
            },
        };
        Ok(Some(expr))
    }

    /// `\lfloor x \rfloor`-style brackets.
    fn closed_by(&mut self, function: &'static str, closers: &[&str]) -> Parsed {
        let inner = some_or_none!(self.sum());
        if !self.eat_cmd(closers) {
            return Ok(None);
        }
        Ok(Some(Expr::Func(function, boxed(inner))))
    }

    fn function(&mut self, function: &'static str) -> Parsed {
        let mut base = None;
        if (function == "log") && self.peek() == Some(&Token::Op('_')) {
            self.pos += 1;
            base = Some(some_or_none!(self.argument()));
        }
        // `\sin^2 x` is (sin x)^2; `\sin^{-1}` is left alone (rare in final answers).
        let power = if self.eat_op('^') {
            Some(some_or_none!(self.argument()))
        } else {
            None
        };
        let argument = if let Some(Token::Open(open)) = self.peek().cloned() {
            self.pos += 1;
            some_or_none!(self.group(open))
        } else {
            // `\sin 2x`: the implicit product that follows, up to the next function.
            let mut factors = vec![some_or_none!(self.power())];
            while self.starts_factor() && !self.peek_cmd(&FUNCTIONS) {
                factors.push(some_or_none!(self.power()));
            }
            if factors.len() == 1 {
                factors.pop().expect("one factor")
            } else {
                Expr::Mul(factors)
            }
        };
        let applied = match (function, base) {
            ("log", Some(base)) => Expr::Log(boxed(base), boxed(argument)),
            ("log" | "lg", None) => Expr::Log(
                boxed(Expr::Num(Decimal::parse("10", "", 0))),
                boxed(argument),
            ),
            _ => Expr::Func(function, boxed(argument)),
        };
        Ok(Some(match power {
            Some(p) => Expr::Pow(boxed(applied), boxed(p)),
            None => applied,
        }))
    }

    /// `\sum_{k=1}^{n} body`; the body is the product that follows.
    fn series(&mut self, product: bool) -> Parsed {
        self.eat_cmd(&["limits", "nolimits"]);
        if !self.eat_op('_') || !self.eat(&Token::Open('{')) {
            return Ok(None);
        }
        let Some(Token::Letter(var)) = self.peek().cloned() else {
            return Ok(None);
        };
        self.pos += 1;
        if !self.eat_op('=') {
            return Ok(None);
        }
        let from = some_or_none!(self.sum());
        if !self.eat(&Token::Close('}')) || !self.eat_op('^') {
            return Ok(None);
        }
        let to = some_or_none!(self.argument());
        self.bound.push(var.to_string());
        let body = self.product();
        self.bound.pop();
        let body = some_or_none!(body);
        Ok(Some(Expr::Series {
            product,
            var: var.to_string(),
            from: boxed(from),
            to: boxed(to),
            body: boxed(body),
        }))
    }
}

/// Parse a normalised answer; `Ok(None)` when it is not an expression we understand.
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
        bars: 0,
        bound: Vec::new(),
        deadline,
        calls: 0,
    };
    let expr = parser.sum()?;
    Ok(expr.filter(|_| parser.pos == parser.tokens.len()))
}

// ---------------------------------------------------------------- structure

/// The tree with nested sums and products flattened and their operands sorted, double negations
/// removed: two trees that differ only by commutativity or associativity become equal.
pub fn canonical(expr: &Expr) -> Expr {
    use Expr::*;
    match expr {
        Add(terms) | Mul(terms) => {
            let is_add = matches!(expr, Add(_));
            let mut flat = Vec::with_capacity(terms.len());
            for term in terms.iter().map(canonical) {
                match term {
                    Add(inner) if is_add => flat.extend(inner),
                    Mul(inner) if !is_add => flat.extend(inner),
                    other => flat.push(other),
                }
            }
            flat.sort();
            if is_add {
                Add(flat)
            } else {
                Mul(flat)
            }
        }
        Neg(a) => match canonical(a) {
            Neg(inner) => *inner,
            other => Neg(boxed(other)),
        },
        other => map_children(other, &canonical),
    }
}

/// The same node with `f` applied to each child.
fn map_children(expr: &Expr, f: &dyn Fn(&Expr) -> Expr) -> Expr {
    use Expr::*;
    let map = |e: &Expr| boxed(f(e));
    match expr {
        Add(terms) => Add(terms.iter().map(f).collect()),
        Mul(factors) => Mul(factors.iter().map(f).collect()),
        Neg(a) => Neg(map(a)),
        Div(a, b) => Div(map(a), map(b)),
        Pow(a, b) => Pow(map(a), map(b)),
        Root(a, b) => Root(map(a), map(b)),
        Factorial(a) => Factorial(map(a)),
        Func(name, a) => Func(name, map(a)),
        Log(a, b) => Log(map(a), map(b)),
        Binom(a, b) => Binom(map(a), map(b)),
        Series {
            product,
            var,
            from,
            to,
            body,
        } => Series {
            product: *product,
            var: var.clone(),
            from: map(from),
            to: map(to),
            body: map(body),
        },
        Percent(a) => Percent(map(a)),
        PlusMinus(a, flag) => PlusMinus(map(a), *flag),
        leaf => leaf.clone(),
    }
}

pub(super) fn children(expr: &Expr) -> Vec<&Expr> {
    use Expr::*;
    match expr {
        Add(v) | Mul(v) => v.iter().collect(),
        Neg(a) | Factorial(a) | Func(_, a) | Percent(a) | PlusMinus(a, _) => vec![a],
        Div(a, b) | Pow(a, b) | Root(a, b) | Log(a, b) | Binom(a, b) => vec![a, b],
        Series { from, to, body, .. } => vec![from, to, body],
        _ => Vec::new(),
    }
}

fn any_node(expr: &Expr, test: &dyn Fn(&Expr) -> bool) -> bool {
    test(expr) || children(expr).into_iter().any(|c| any_node(c, test))
}

pub fn contains_infinity(expr: &Expr) -> bool {
    any_node(expr, &|e| matches!(e, Expr::Infinity))
}

pub fn has_plus_minus(expr: &Expr) -> bool {
    any_node(expr, &|e| matches!(e, Expr::PlusMinus(..)))
}

/// The values `expr` stands for, one per sign of its `\pm` (all `\pm` share one sign, `\mp` takes
/// the other): `1 \pm \sqrt{2}` -> [1 + √2, 1 - √2].
pub fn expand_plus_minus(expr: &Expr) -> Vec<Expr> {
    fn with_sign(expr: &Expr, plus: bool) -> Expr {
        match expr {
            Expr::PlusMinus(a, minus_first) => {
                let inner = with_sign(a, plus);
                if plus != *minus_first {
                    inner
                } else {
                    Expr::Neg(boxed(inner))
                }
            }
            other => map_children(other, &|e| with_sign(e, plus)),
        }
    }
    if has_plus_minus(expr) {
        vec![with_sign(expr, true), with_sign(expr, false)]
    } else {
        vec![expr.clone()]
    }
}

/// How an expression relates to decimal approximations (see [`number::decimal_approximates`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// No decimal with a fractional part: a claimed exact value.
    Exact,
    /// A single decimal literal with this many decimal places (maybe negated or a percentage).
    Literal(i64),
    /// An expression that contains decimals.
    Approximate,
}

pub fn precision(expr: &Expr) -> Precision {
    match expr {
        Expr::Num(d) if d.fractional => Precision::Literal(d.written_places()),
        Expr::Neg(a) => precision(a),
        Expr::Percent(a) => match precision(a) {
            Precision::Literal(places) => Precision::Literal(places + 2),
            other => other,
        },
        _ if any_node(expr, &|e| matches!(e, Expr::Num(d) if d.fractional)) => {
            Precision::Approximate
        }
        _ => Precision::Exact,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn parsed(text: &str) -> Expr {
        let deadline = Deadline::after(Duration::from_secs(5));
        parse(text, &deadline)
            .unwrap()
            .unwrap_or_else(|| panic!("could not parse {text:?}"))
    }

    fn same(a: &str, b: &str) -> bool {
        let deadline = Deadline::after(Duration::from_secs(5));
        equivalent(&parsed(a), &parsed(b), &deadline).unwrap()
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
        assert!(same("\\frac{1}{12}", "0.0833333333333333"));
        assert!(same("\\sqrt{17}", "4.123105625617661"));
        assert!(!same("16386.17", "16386.16"));
    }

    #[test]
    fn big_numbers_are_exact() {
        assert!(!same("10^{400}", "\\infty"));
        assert!(!same("2^{1024}", "2^{1025}"));
        assert!(same("2^{1024}", "4^{512}"));
        assert!(!same("1e400", "2e400"));
        assert!(same("1e400", "10^{400}"));
        assert!(!same("\\infty", "-\\infty"));
        assert!(same("\\sqrt{10^{400}}", "10^{200}"));
        let digits = "9".repeat(3000);
        assert!(!same(&digits, &format!("{digits}+1")));
    }

    #[test]
    fn radicals_and_constants() {
        assert!(same("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt2}"));
        assert!(same("2\\sqrt{3}", "\\sqrt{12}"));
        assert!(same("\\sqrt[3]{8}", "2"));
        assert!(same("\\frac{\\pi}{2}", "0.5\\pi"));
        assert!(!same("\\sqrt{2}", "1.414"));
        assert!(same("(1+i)^2", "2i"));
        assert!(same("\\cfrac{1}{3}", "1/3"));
    }

    #[test]
    fn symbolic() {
        assert!(same("2x+3", "3+x\\cdot2"));
        assert!(same("(x+1)^2", "x^2+2x+1"));
        assert!(!same("(x+1)^2", "x^2+1"));
        assert!(!same("2x", "2y"));
        assert!(same("\\sin^2 x+\\cos^2 x", "1"));
        assert!(same("\\tan^2(y)+1", "\\sec^2(y)"));
        assert!(same("2 \\sin b \\cos a", "2\\cos a\\sin b"));
    }

    #[test]
    fn series_and_products() {
        assert!(same("\\sum_{k=1}^{n} (k+1)", "\\sum_{k=1}^{n} (1+k)"));
        assert!(same("\\sum_{k=1}^{10} k^2", "385"));
        assert!(same("\\sum_{k=1}^{n} k", "\\frac{n(n+1)}{2}"));
        assert!(same("\\prod_{i=1}^{5} i", "5!"));
        assert!(!same("\\sum_{k=1}^{n} k", "\\frac{n(n-1)}{2}"));
        assert!(same("\\binom{5}{2}", "10"));
    }

    #[test]
    fn percent_means_the_number_or_its_fraction() {
        assert!(same("28\\%", "28"));
        assert!(same("28\\%", "0.28"));
        assert!(!same("28\\%", "29"));
    }

    #[test]
    fn plus_minus_expands() {
        let values = expand_plus_minus(&parsed("1 \\pm \\sqrt{19}"));
        assert_eq!(values.len(), 2);
        let deadline = Deadline::after(Duration::from_secs(1));
        assert!(equivalent(&values[1], &parsed("1-\\sqrt{19}"), &deadline).unwrap());
    }

    #[test]
    fn words_are_not_products() {
        let deadline = Deadline::after(Duration::from_secs(1));
        assert_eq!(parse("Monday", &deadline).unwrap(), None);
    }

    #[test]
    fn unclosed_subscript_is_not_a_name() {
        let deadline = Deadline::after(Duration::from_secs(1));
        assert_eq!(parse("0_{", &deadline).unwrap(), None);
        assert_eq!(parse("x_{", &deadline).unwrap(), None);
    }

    #[test]
    fn deep_nesting_is_rejected_quickly() {
        let deadline = Deadline::after(Duration::from_secs(1));
        let bomb = "\\frac{".repeat(5000) + "1" + &"}{2}".repeat(5000);
        assert_eq!(parse(&bomb, &deadline).unwrap(), None);
        let tower = "2^{".repeat(12) + "9" + &"}".repeat(12);
        let expr = parse(&tower, &deadline).unwrap().unwrap();
        assert!(!equivalent(&expr, &parsed("2"), &deadline).unwrap());
        assert!(same("10^{10^{10}}", "10^{10^{10}}"));
        assert!(!same("10^{10^{10}}", "10^{10^{10}}+1"));
    }
}
