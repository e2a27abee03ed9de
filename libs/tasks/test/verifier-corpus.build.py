# Writes verifier-corpus.jsonl: `python3 libs/tasks/test/verifier-corpus.build.py`. Each case states by hand the
# result it must get in strict and in lenient extraction (add(style, notation, response, gold, strict,
# lenient=strict)); the cases are written for this project from the issue-19 notations and the answer
# styles of GSM8K, MATH and AIME, none copied from another project. The JSONL is the committed corpus;
# this file only makes it reviewable as code.
import json, random
cases = []
def add(style, notation, response, gold, strict, lenient=None):
    if lenient is None: lenient = strict
    cases.append(dict(style=style, notation=notation, response=response, gold=gold, expected=dict(strict=strict, lenient=lenient)))

# ---- false positives from the issue: lists and spaces never merge into one number
for r, g in [("32, 349","32349"),("1, 234","1234"),("12, 345, 678","12345678"),("2 3","23"),("1 000","1000"),("12 345","12345"),
             ("3, 000","3000"),("7 5","75"),("1 2 3","123"),("100, 000","100000")]:
    add("issue", "no-merge", f"So the result is \\boxed{{{r}}}.", g, False)
add("issue","no-merge","The answer is 32, 349.","32349",False)
add("issue","no-merge","#### 1 234","1234",False)
add("issue","no-merge","$\\boxed{12,\\ 345}$","12345",False)
add("issue","mixed-number","\\boxed{4 4/9}","44/9",False)
add("issue","mixed-number","\\boxed{4 4/9}","40/9",True)
add("issue","mixed-number","The answer is 2 1/2.","5/2",True)
add("issue","mixed-number","The answer is 2 1/2.","21/2",False)
add("issue","mixed-number","\\boxed{3\\frac{1}{4}}","13/4",True)
add("issue","mixed-number","\\boxed{3 \\frac{1}{4}}","3.25",True)
add("issue","mixed-number","\\boxed{1 5/3}","8/3",False)  # improper part: not a mixed number
# well-formed separators still work
for r, g in [("1,234","1234"),("1,234,567","1234567"),("1\\,234","1234"),("1{,}234","1234"),("12\\,345\\,678","12345678"),
             ("1{,}000{,}000","1000000"),("\\$1,250","1250"),("-1,000","-1000"),("3,456.78","3456.78")]:
    add("separators","thousands",f"\\boxed{{{r}}}",g,True)
for r, g in [("1,23","123"),("12\\,34","1234"),("1,2345","12345"),("1{,}23","123")]:
    add("separators","thousands",f"\\boxed{{{r}}}",g,False)

# ---- GSM8K style
rnd = random.Random(19)
for i in range(30):
    n = rnd.choice([rnd.randint(2,99), rnd.randint(100,999), rnd.randint(1000,99999)])
    a = rnd.randint(1, max(1,n-1)); b = n - a
    fmt = f"{n:,}" if n >= 1000 and i % 2 == 0 else str(n)
    resp = f"She had {a} and got {b} more.\n{a} + {b} = {n}\n#### {fmt}"
    add("gsm8k","hashes",resp,str(n),True)
    add("gsm8k","hashes",resp.replace(f"#### {fmt}", f"#### {n+1}"),str(n),False)
for resp, g, e in [
    ("He earns $12 per hour, 8 hours: 12*8 = $96.\n#### 96","96",True),
    ("Total is 5 + 7 = 12 apples.\n#### 12 apples","12",True),
    ("#### $1,080","1080",True),
    ("#### 1,080.00","1080",True),
    ("#### 45%","45",True),
    ("#### 45 percent","45",True),
    ("#### 18 dollars","18",True),
    ("#### 3 hours","3",True),
    ("#### 2.5 miles","2.5",True),
    ("#### 60 mph","60",True),
    ("#### 7 cm","8",False),
    ("#### 0.5","1/2",True),
    ("#### -3","3",False),
]: add("gsm8k","hashes",resp,g,e)

# ---- MATH style boxed
for resp, g, e in [
    ("Thus the area is $\\boxed{18\\pi}$.","18\\pi",True),
    ("Therefore $x = \\boxed{\\frac{3}{2}}$.","\\frac32",True),
    ("so the probability is $\\boxed{\\dfrac{5}{12}}$.","\\frac{5}{12}",True),
    ("The sum is $\\boxed{2\\sqrt{3}}$.","\\sqrt{12}",True),
    ("The sum is $\\boxed{2\\sqrt{3}}$.","\\sqrt{13}",False),
    ("The solutions are $\\boxed{-2, 5}$.","5,-2",True),
    ("The solutions are $\\boxed{-2, 5}$.","2,-5",False),
    ("The point is $\\boxed{(3, -4)}$.","(3,-4)",True),
    ("The point is $\\boxed{(-4, 3)}$.","(3,-4)",False),
    ("The domain is $\\boxed{[2, \\infty)}$.","[2,\\infty)",True),
    ("The domain is $\\boxed{(2, \\infty)}$.","[2,\\infty)",False),
    ("$\\boxed{\\text{(C)}}$","\\text{(C)}",True),
    ("$\\boxed{\\text{(C)}}$","\\text{(D)}",False),
    ("$\\boxed{x^2+2x+1}$","(x+1)^2",True),
    ("$\\boxed{x^2+2x-1}$","(x+1)^2",False),
    ("$\\boxed{\\frac{\\sqrt{2}}{2}}$","\\frac{1}{\\sqrt{2}}",True),
    ("$\\boxed{\\frac{\\pi}{3}}$","\\frac{\\pi}{3}",True),
    ("$\\boxed{60^\\circ}$","60",True),
    ("$\\boxed{60^{\\circ}}$","60",True),
    ("$\\boxed{0.6}$","\\frac{3}{5}",True),
    ("$\\boxed{-\\frac{7}{4}}$","-1.75",True),
    ("$\\boxed{\\frac{-7}{4}}$","1.75",False),
    ("$\\boxed{1{,}000{,}000}$","10^6",True),
    ("$\\boxed{10}$","10^6",False),
]: add("math","boxed",resp,g,e)

# ---- AIME style (integers 000-999)
for n in [7, 42, 110, 315, 999, 0, 25, 588]:
    add("aime","boxed",f"Hence $m+n = \\boxed{{{n:03d}}}$.",str(n),True)
    add("aime","boxed",f"Hence $m+n = \\boxed{{{n+1:03d}}}$.",str(n),False)
add("aime","answer-is","The answer is $\\boxed{033}$.","33",True)
add("aime","answer-is","Therefore, the answer is 033.","33",True)
add("aime","answer-is","Therefore, the answer is 034.","33",False)
add("aime","answer-is","The answer is 33, and 34 was a guess.","34",False)

# ---- percent words
for r, g, e in [("28 percent","28",True),("28 pct","28",True),("28 percentage points","28",True),("28\\%","28",True),("28 per cent","28",True),
                ("28\\text{ percent}","28",True),("28 percent","29",False),("28 pct","0.28",False)]:
    add("notation","percent",f"\\boxed{{{r}}}",g,e)

# ---- relations and inequalities
for r, g, e in [
    ("x \\geq 5","x>=5",True),("x \\ge 5","x \\geq 5",True),("x \\geqslant 5","x\\ge5",True),("x ≥ 5","x\\geq 5",True),
    ("x \\neq 3","x != 3",True),("x \\ne 3","x \\neq 3",True),("x \\lt 2","x<2",True),("x \\gt 2","x>2",True),
    ("5 \\geq x","x \\leq 5",True),("5 > x","x < 5",True),("x \\leq 5","x \\geq 5",False),("x < 5","x \\le 5",False),
    ("x \\ne 3","x = 3",False),("2x \\le 10","x \\le 5",True),("-x \\le -5","x \\ge 5",True),("-x \\le -5","x \\le 5",False),
    ("x > 2","x \\ge 2",False),("x \\geq 5","x\\geq6",False),
]: add("notation","relation",f"\\boxed{{{r}}}",g,e)

# ---- equations compared as equations
for r, g, e in [
    ("2x+4y-3=0","y=-\\frac12x+\\frac34",True),("y = 2x + 1","y=1+2x",True),("2x - y + 1 = 0","y = 2x + 1",True),
    ("4x + 8y = 6","2x + 4y = 3",True),("y = 2x + 1","y = 2x - 1",False),("x + y = 3","x + y = 4",False),
    ("x^2 + y^2 = 25","y^2 + x^2 = 25",True),("x^2 + y^2 = 25","x^2 + y^2 = 5",False),("3 = x","x = 3",True),
    ("y = x^2","x^2 - y = 0",True),("y = x^2","y = x^3",False),
]: add("notation","equation",f"\\boxed{{{r}}}",g,e)
for r, g, e in [("x = 3","3",True),("x=-\\frac{1}{2}","-0.5",True),("x + y = 3","3",False),("y = 7","7",True),("x = 4","3",False),("x \\in [0, 1]","[0,1]",True),("x \\in (0, 1)","[0,1]",False)]:
    add("notation","assignment",f"\\boxed{{{r}}}",g,e)

# ---- sets, tuples, intervals, pm
for r, g, e in [
    ("\\pm 2021","\\{-2021, 2021\\}",True),("\\pm 2021","-2021,2021",True),("\\pm 2021","2021",False),("x = \\pm 3","3,-3",True),
    ("\\frac{1 \\pm \\sqrt{5}}{2}","\\frac{1+\\sqrt5}{2}, \\frac{1-\\sqrt5}{2}",True),("1 \\pm \\sqrt{2}","\\{1+\\sqrt{2},1-\\sqrt{2}\\}",True),
    ("\\pm 4","\\{-3, 3\\}",False),("\\{1, 2, 3\\}","3, 2, 1",True),("\\{1, 2\\}","(1, 2)",False),("(1, 2)","\\{1,2\\}",False),
    ("\\{3, 5\\}","\\{5, 3\\}",True),("\\{3, 5\\}","\\{3, 5, 7\\}",False),("(0, 1]","(0,1]",True),("[0, 1]","(0,1]",False),
    ("(-\\infty, 3) \\cup (5, \\infty)","(-\\infty,3)\\cup(5,\\infty)",True),("(1, 2, 3)","(1,2,3)",True),("(1, 3, 2)","(1,2,3)",False),
]: add("notation","sets",f"\\boxed{{{r}}}",g,e)

# ---- decimal comma
for r, g, e in [("1000,99","1000.99",True),("3,75","3.75",True),("0,5","0.5",True),("1000,99","100099",False),("3,75","3.76",False),("3,5","3,5",True)]:
    add("notation","decimal-comma",f"\\boxed{{{r}}}",g,e)

# ---- units
for r, g, e in [
    ("5\\textnormal{ miles}","5",True),("5 \\text{ miles}","5",True),("12 apples","12",True),("€25","25",True),("25 €","25",True),("£3.50","3.5",True),
    ("4 m²","4",True),("4\\text{ m}^2","4",True),("9 \\mathrm{cm}^3","9",True),("30 \\mbox{ km/h}","30",True),("7 \\textnormal{ feet}","6",False),
    ("2 xy","2",False),("3 squared","3",False),("3 m","3",False),("3 m^2","3",True),("3\\sqrt{2}\\text{ cm}","\\sqrt{18}",True),("\\frac{\\pi}{3}\\text{ radians}","\\frac{\\pi}{3}",True),("3\\text{ squared}","3",False),("\\text{no}","\\text{no}",True),("\\text{yes}","\\text{no}",False),("10 choose 3","10",False),("5 and 6","5",False),("\\$4.50","4.5",True),("18\\text{ dollars}","18",True),("5 \\text{cm}","50",False),
]: add("notation","units",f"\\boxed{{{r}}}",g,e)

# ---- matrices
for r, g, e in [
    ("\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}","\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",True),
    ("\\begin{pmatrix} 1 & 2 \\\\  3 & 4 \\end{pmatrix}","\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",True),
    ("\\begin{pmatrix} \\frac12 & 0 \\\\ 0 & 1 \\end{pmatrix}","\\begin{pmatrix}0.5&0\\\\0&1\\end{pmatrix}",True),
    ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\\\ \\end{pmatrix}","\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",True),
    ("\\begin{bmatrix} 1 & 2 \\\\ 4 & 3 \\end{bmatrix}","\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",False),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}","\\begin{pmatrix}1&2\\end{pmatrix}",False),
    ("\\begin{vmatrix} 1 & 2 \\\\ 3 & 4 \\end{vmatrix}","\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",False),
    ("\\begin{pmatrix} 2x \\\\ x+x \\end{pmatrix}","\\begin{pmatrix}2x\\\\2x\\end{pmatrix}",True),
]: add("notation","matrix",f"\\boxed{{{r}}}",g,e)

# ---- cfrac, trailing punctuation
for r, g, e in [("\\cfrac{1}{2}","0.5",True),("\\cfrac[l]{3}{4}","\\frac34",True),("\\cfrac{1}{3}","0.5",False),
                ("5.","5",True),("5,","5",True),("x = 3;","3",True),("\\frac{1}{2}.","0.5",True),("7.","8",False),("12:","12",True)]:
    add("notation","punctuation-cfrac",f"\\boxed{{{r}}}",g,e)
add("notation","punctuation-cfrac","The answer is $5.$","5",True)

# ---- decimals vs fractions (tolerance)
for r, g, e in [
    ("0.0833333333333333","\\frac{1}{12}",True),("0.08333333","\\frac{1}{12}",True),("0.0833","\\frac{1}{12}",False),("0.333","\\frac13",False),
    ("0.3333333","\\frac13",True),("0.6666667","\\frac23",True),("0.6666666","\\frac23",True),("0.6666668","\\frac23",False),
    ("0.30000000000000004","0.3",False),("3.1415926536","\\frac{355}{113}",False),("1.4285714","\\frac{10}{7}",True),("1.4285715","\\frac{10}{7}",False),("1.4285716","\\frac{10}{7}",False),
    ("-0.1666667","-\\frac16",True),("0.1666667","-\\frac16",False),("\\frac{1}{12}","0.0833333333333333",True),
]: add("notation","tolerance",f"\\boxed{{{r}}}",g,e)

# ---- several boxes
for resp, g, e in [
    ("\\boxed{1}\\boxed{2}","1,2",True),("\\boxed{1}, \\boxed{2}","\\boxed{1,2}",True),("$\\boxed{3}$ and $\\boxed{-3}$","\\pm 3",True),
    ("\\boxed{1}\\boxed{2}","2",False),("x=\\boxed{2} or x=\\boxed{5}","2,5",False),("First \\boxed{3}; finally \\boxed{4}","4",True),
    ("\\boxed{1} \\text{ or } \\boxed{2}","\\{1,2\\}",True),
]: add("notation","several-boxes",resp,g,e)

# ---- identities (CAS)
for r, g, e in [
    ("\\tan^2 y + 1","\\sec^2 y",True),("\\sin^2 x + \\cos^2 x","1",True),("2\\sin x\\cos x","\\sin(2x)",True),
    ("\\cos^2 x - \\sin^2 x","\\cos(2x)",True),("\\tan^2 y","\\sec^2 y",False),("\\sin x","\\cos x",False),
    ("\\frac{x^2-1}{x-1}","x+1",True),("\\sqrt{x^2}","x",False),("e^{\\ln 2}","2",True),("\\log_2 8","3",True),
    ("(a+b)^2","a^2+2ab+b^2",True),("(a+b)^2","a^2+b^2",False),("\\frac{1}{x}+\\frac{1}{y}","\\frac{x+y}{xy}",True),
    ("\\sqrt{2}","1.4142135623730951",False),("2\\pi r","2r\\pi",True),
    ("\\ln(x^2)","2\\ln x",False),("\\ln(x^2)","2\\ln|x|",True),("|x|","x",False),("1.4142135623730951x","\\sqrt{2}x",False),("x^2+0.0000000001","x^2",False),("0.5x","\\frac{x}{2}",True),("\\frac{x}{x}","1",True),
]: add("notation","cas",f"\\boxed{{{r}}}",g,e)

# ---- strict vs lenient extraction
for resp, g, s, l in [
    ("Final Answer: The largest $n$ is 34.","34",True,True),
    ("Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.","0.5",True,True),
    ("Final Answer: 17","17",True,True),
    ("**Final Answer:** 17","17",True,True),
    ("Therefore the total is $9$","9",False,True),
    ("We conclude\n\\[9\\]","9",False,True),
    ("So there are 12 cookies left.","12",False,True),
    ("So there are 12 cookies left.","13",False,False),
    ("I think it is 42","42",False,True),
    ("The value is $x = 5$.","5",False,True),
    ("Thus $3 \\times 4 = 12$.","12",False,True),
    ("Adding gives 1,234 in total.","1234",False,True),
    ("We get $\\frac{3}{4}$ of the cake.","0.75",False,True),
    ("We get $\\frac{3}{4}$ of the 2 cakes.","0.75",False,False),
    ("no numbers at all","5",False,False),
    ("\\boxed{5} then \\boxed{5","5",False,True),
    ("the answer is 7","7",True,True),
    ("the answer is 7, not 8","8",False,False),
    ("after all, $y = 2x+1$","y=2x+1",False,True),
    ("Result: \\(\\sqrt{2}\\)","\\sqrt{2}",False,True),
    ("\\boxed{3} is my answer, though 4 appears later","3",True,True),
]: add("extraction","mode",resp,g,s,l)

# ---- gold forms
for resp, g, e in [("\\boxed{72}","48/2 = 24\n24+48 = 72\n#### 72",True),("\\boxed{\\frac12}","Hence $\\boxed{\\dfrac{1}{2}}$.",True),("#### 9","\\boxed{9}",True),("#### 8","\\boxed{9}",False)]:
    add("gold","gold-forms",resp,g,e)

# ---- signs, decimals, fractions, big numbers
for r, g, e in [
    ("-5","-5",True),("−5","-5",True),("+5","5",True),("5","-5",False),("\\frac{-1}{-2}","-1/2",False),("-\\frac{1}{2}","-0.5",True),
    ("3.0","3",True),("2.50","2.5",True),(".5","0.5",True),("1.5e3","1500",True),("2.5\\times10^{3}","2500",True),("3.14","3.15",False),
    ("123456789012345678901234567890","123456789012345678901234567890",True),("9007199254740993","9007199254740992",False),
    ("\\frac{6}{8}","\\frac34",True),("\\frac{1.5}{3}","0.5",True),("\\dfrac34","0.75",True),("007","7",True),
    ("\\frac{1}{0}","\\frac{1}{0}",False),("0/0","0/0",False),
]: add("numbers","basic",f"\\boxed{{{r}}}",g,e)

# ---- adversarial (all must be refused cleanly, i.e. false)
adv = [
    ("\\boxed{" + "\\frac{" * 60 + "1" + "}{2}" * 60 + "}", "1"),
    ("\\boxed{" + "9" * 999 + "}", "1"),
    ("#### " + "9" * 5000, "9"),
    ("\\boxed{10^{10^{10}}}", "1"),
    ("\\boxed{9^{9^{9}}}", "5"),
    ("\\boxed{2^{100000000}}", "0"),
    ("\\boxed{1e999999}", "1"),
    ("\\boxed{1000000!}", "1"),
    ("\\boxed{" + "{" * 500 + "1" + "}" * 500 + "}", "2"),
    ("\\boxed{" + "(" * 50 + "x" + ")" * 50 + "}", "y"),
    ("\\boxed{\\begin{pmatrix}" + "1&" * 200 + "1\\end{pmatrix}}", "1"),
    ("\\boxed{" + "\\sqrt{" * 40 + "2" + "}" * 40 + "}", "2"),
    ("\\boxed{" + "x^" * 30 + "2}", "4"),
    ("$" * 2000 + "5", "6"),
    ("\\(" * 3000, "1"),
]
for r, g in adv: add("adversarial","refused",r,g,False)

for i, c in enumerate(cases): c["id"] = f"{c['style']}-{c['notation']}-{i:03d}"
with open(__import__("os").path.join(__import__("os").path.dirname(__file__), "verifier-corpus.jsonl"), "w") as f:
    for c in cases:
        f.write(json.dumps({"id": c["id"], "style": c["style"], "notation": c["notation"], "response": c["response"], "gold": c["gold"], "expected": c["expected"]}, ensure_ascii=False) + "\n")
print(len(cases))
