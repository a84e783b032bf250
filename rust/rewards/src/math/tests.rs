//! Behaviour of the math verifier by answer class, and a fuzz over all of Unicode.

use super::*;
use std::time::Duration;

fn run(response: &str, gold: &str, extraction: Extraction) -> Status {
    verify(
        response,
        gold,
        extraction,
        Deadline::after(Duration::from_secs(2)),
    )
    .status
}

fn check(response: &str, gold: &str) -> Status {
    run(response, gold, Extraction::Strict)
}

fn flex(response: &str, gold: &str) -> Status {
    run(response, gold, Extraction::Flex)
}

fn boxed(answer: &str, gold: &str) -> Status {
    check(&format!("so the answer is \\boxed{{{answer}}}."), gold)
}

use Status::{Correct, Unparseable, Wrong};

#[test]
fn scalars() {
    assert_eq!(boxed("\\dfrac{1}{2}", "\\frac12"), Correct);
    assert_eq!(boxed("0.5", "\\frac{1}{2}"), Correct);
    assert_eq!(boxed("x = 5", "5"), Correct);
    assert_eq!(boxed("45^\\circ", "45"), Correct);
    assert_eq!(boxed("6", "5"), Wrong);
    assert_eq!(boxed("\\text{(C)}", "\\text{(C)}"), Correct);
    assert_eq!(boxed("C", "\\text{(C)}"), Correct);
    assert_eq!(boxed("Monday", "\\text{Monday}"), Correct);
    assert_eq!(boxed("\\cfrac{1}{3}", "1/3"), Correct);
}

#[test]
fn tuples_intervals_sets() {
    assert_eq!(boxed("(1, 2)", "(1,2)"), Correct);
    assert_eq!(boxed("(2, 1)", "(1,2)"), Wrong);
    assert_eq!(boxed("[1, 2)", "(1,2)"), Wrong);
    assert_eq!(
        boxed(
            "(-\\infty, 3] \\cup (5, \\infty)",
            "(-\\infty,3]\\cup(5,\\infty)"
        ),
        Correct
    );
    assert_eq!(boxed("3, 1, 2", "1, 2, 3"), Correct);
    assert_eq!(boxed("3; 1; 2", "1, 2, 3"), Correct);
    assert_eq!(boxed("\\{2, 1\\}", "\\{1,2\\}"), Correct);
    assert_eq!(boxed("1, 2", "1, 2, 3"), Wrong);
    assert_eq!(boxed("3, 2", "(3,2)"), Correct);
    assert_eq!(boxed("2, 3", "(3,2)"), Wrong);
}

#[test]
fn matrices() {
    let gold = "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}";
    assert_eq!(
        boxed("\\begin{pmatrix}1&2\\\\3&\\frac{8}{2}\\end{pmatrix}", gold),
        Correct
    );
    assert_eq!(
        boxed(
            "\\left[\\begin{array}{cc}1&2\\\\3&4\\end{array}\\right]",
            gold
        ),
        Correct
    );
    assert_eq!(
        boxed("\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}", gold),
        Correct
    );
    assert_eq!(
        boxed("\\begin{pmatrix}1&2\\\\4&3\\end{pmatrix}", gold),
        Wrong
    );
    let sum = "\\begin{pmatrix}1 & 1 \\\\ 1 & 1\\end{pmatrix} + \\begin{pmatrix}0 & 1 \\\\ 2 & 3\\end{pmatrix}";
    assert_eq!(boxed(sum, gold), Correct);
    let product = "2 \\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end{pmatrix} \\begin{pmatrix}0.5 & 1 \\\\ 1.5 & 2\\end{pmatrix}";
    assert_eq!(boxed(product, gold), Correct);
}

#[test]
fn several_boxes_form_one_answer() {
    assert_eq!(check("\\boxed{1}\\boxed{2}", "1, 2"), Correct);
    assert_eq!(check("\\boxed{1} and \\boxed{2}", "1, 2"), Correct);
    assert_eq!(check("\\boxed{5} or maybe \\boxed{6}", "5"), Wrong);
    assert_eq!(check("\\boxed{5}, i.e. \\boxed{5.0}", "5"), Correct);
    let corrected = "First \\boxed{3}. Wait, that ignores the second condition; redoing the \
                     computation with both conditions gives \\boxed{5}.";
    assert_eq!(check(corrected, "5"), Correct);
}

#[test]
fn relations() {
    assert_eq!(boxed("x \\geq 5", "x \\ge 5"), Correct);
    assert_eq!(boxed("5 \\le x", "x \\ge 5"), Correct);
    assert_eq!(boxed("-x > -1", "x < 1"), Correct);
    assert_eq!(boxed("x > -1", "x < 1"), Wrong);
    assert_eq!(boxed("x \\le 5", "x \\ge 5"), Wrong);
    assert_eq!(boxed("x \\in [-2,7]", "-2 \\le x \\le 7"), Correct);
    assert_eq!(boxed("-2 \\le x \\le 7", "x \\in [-2,7]"), Correct);
    assert_eq!(boxed("-2 \\le x \\le 7", "[-2,7]"), Correct);
    assert_eq!(boxed("-2 < x < 7", "(-2,7)"), Wrong); // (a, b) may be a point
    assert_eq!(boxed("[5, \\infty)", "x \\ge 5"), Correct);
    assert_eq!(boxed("x \\ne 3", "x != 3"), Correct);
}

#[test]
fn labels_and_equations() {
    assert_eq!(boxed("(p,q)=(3,2)", "(3,2)"), Correct);
    assert_eq!(boxed("(3,2)", "(p,q)=(3,2)"), Correct);
    assert_eq!(boxed("x = 5+5+1 = 7 = 11", "x = 11"), Correct);
    assert_eq!(boxed("11a+c", "7 = 11a+c"), Wrong);
    assert_eq!(boxed("0", "a+3z=0"), Wrong);
    assert_eq!(boxed("-34x-45y+20z-100=0", "34x+45y-20z+100=0"), Correct);
    assert_eq!(boxed("y=-\\frac{1}{2}x+\\frac{3}{4}", "2x+4y-3=0"), Correct);
    assert_eq!(boxed("x^2/16 + y^2/12 = 1/4", "x^2/4 + y^2/3 = 1"), Correct);
    assert_eq!(boxed("y = 2x + 2", "y = 2x + 1"), Wrong);
    assert_eq!(boxed("y = 1", "x = 1"), Wrong);
}

#[test]
fn plus_minus_and_percent() {
    assert_eq!(
        boxed("1+\\sqrt{19}, 1-\\sqrt{19}", "1 \\pm \\sqrt{19}"),
        Correct
    );
    assert_eq!(boxed("x = 1 \\pm \\sqrt{19}", "1 \\pm \\sqrt{19}"), Correct);
    assert_eq!(boxed("1+\\sqrt{19}", "1 \\pm \\sqrt{19}"), Wrong);
    assert_eq!(
        boxed("\\{1\\pm\\sqrt{5},-2\\}", "-2, 1+\\sqrt5, 1-\\sqrt 5"),
        Correct
    );
    for answer in ["28 pct", "28\\%", "28 percent", "28%", "28", "0.28"] {
        assert_eq!(boxed(answer, "28\\%"), Correct, "{answer}");
    }
    assert_eq!(boxed("29\\%", "28\\%"), Wrong);
}

#[test]
fn numbers_beyond_f64() {
    assert_eq!(boxed("10^{400}", "\\infty"), Wrong);
    assert_eq!(boxed("2^{1024}", "2^{1025}"), Wrong);
    assert_eq!(boxed("1e400", "2e400"), Wrong);
    assert_eq!(boxed("32, 349", "32349"), Wrong);
    assert_eq!(boxed("32,\\!349", "32349"), Correct);
    assert_eq!(boxed("0.0833333333333333", "\\frac{1}{12}"), Correct);
    assert_eq!(boxed("4.123105625617661", "\\sqrt{17}"), Correct);
    assert_eq!(boxed("0.083", "\\frac{1}{12}"), Wrong);
}

#[test]
fn unicode_answers() {
    assert_eq!(boxed("90°", "90"), Correct);
    assert_eq!(boxed("−5", "-5"), Correct);
    assert_eq!(boxed("π/2", "\\frac{\\pi}{2}"), Correct);
    assert_eq!(boxed("x²+1", "x^2+1"), Correct);
    assert_eq!(boxed("√17", "\\sqrt{17}"), Correct);
    assert_eq!(boxed("91°", "90"), Wrong);
}

#[test]
fn extraction_modes() {
    let minerva = "Final Answer: The final answer is $7$. I hope it is correct.";
    assert_eq!(check(minerva, "7"), Correct);
    assert_eq!(check("the answer is $7$", "7"), Unparseable);
    assert_eq!(flex("the answer is $7$", "7"), Correct);
    assert_eq!(flex("so $$5$$", "5"), Correct);
    assert_eq!(flex("so \\[5\\]", "5"), Correct);
    assert_eq!(flex("so \\(5\\)", "5"), Correct);
    assert_eq!(flex("The answer is 7,425,000.", "7425000"), Correct);
    assert_eq!(run("\\boxed{7}", "7", Extraction::MinervaOnly), Unparseable);
}

#[test]
fn pathological_inputs_finish() {
    let bomb = format!(
        "\\boxed{{{}1{}}}",
        "\\frac{".repeat(3000),
        "}{2}".repeat(3000)
    );
    assert!(matches!(
        check(&bomb, "1"),
        Wrong | Unparseable | Status::Timeout
    ));
    let many = "\\boxed{1}".repeat(20000);
    assert_eq!(check(&many, "1"), Correct);
    for hostile in [
        "10^{10^{10}}",
        "99999!",
        "2^{2^{2^{2^{2^{2^{99}}}}}}",
        "\\binom{10^{9}}{5000}",
    ] {
        let start = std::time::Instant::now();
        let status = boxed(hostile, "1");
        assert!(
            matches!(status, Wrong | Unparseable),
            "{hostile}: {status:?}"
        );
        assert!(start.elapsed() < Duration::from_millis(500), "{hostile}");
    }
}

/// Deterministic xorshift over every Unicode scalar value.
struct Chars(u64);

impl Chars {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn any_char(&mut self) -> char {
        loop {
            let pick = self.next();
            let code = match pick % 4 {
                0 => (pick >> 8) % 0x80,          // ASCII
                1 => 0x80 + (pick >> 8) % 0x2F80, // Latin to math symbols
                _ => (pick >> 8) % 0x11_0000,     // anything
            } as u32;
            if let Some(c) = char::from_u32(code) {
                return c;
            }
        }
    }

    fn text(&mut self, max: usize) -> String {
        const PIECES: [&str; 24] = [
            "\\frac{",
            "}{",
            "}",
            "{",
            "\\sqrt[",
            "]",
            "$",
            "\\boxed{",
            ",",
            "=",
            "\\pm",
            "\\cup",
            "(",
            ")",
            "^",
            "\\begin{pmatrix}",
            "_{",
            "_",
            "\\\\",
            "&",
            "\\le",
            "\\sum_{k=",
            "|",
            "0",
        ];
        let len = (self.next() % (max as u64 + 1)) as usize;
        let mut out = String::new();
        for _ in 0..len {
            if self.next() % 3 == 0 {
                out.push_str(PIECES[(self.next() % PIECES.len() as u64) as usize]);
            } else {
                out.push(self.any_char());
            }
        }
        out
    }
}

#[test]
fn any_unicode_never_panics() {
    let mut rng = Chars(0x2545_F491_4F6C_DD1D);
    for _ in 0..1000 {
        let (a, b) = (rng.text(12), rng.text(12));
        let responses = [
            format!("\\boxed{{{a}}}"),
            format!("so ${a}$ and \\boxed{{{b}}}"),
            format!("\\boxed{{\\frac{{{a}}}{{{b}}}}}"),
            format!("$$ {a} $$ \\( {b} \\) The answer is {a}"),
            format!("Final Answer: The final answer is {a}. I hope it is correct."),
            a.clone(),
        ];
        for response in &responses {
            for extraction in [
                Extraction::Strict,
                Extraction::Flex,
                Extraction::MinervaOnly,
            ] {
                // A panic fails the test; any verdict is fine.
                let _ = run(response, &b, extraction);
                let _ = run(&b, response, extraction);
            }
        }
    }
}
