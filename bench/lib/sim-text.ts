// What a simulated rollout actor writes as a response's text: the synthetic task's answer line ("#### n"),
// right or wrong as the simulator decided. bench/scale.ts checks, once, that the real verifier scores both
// kinds as intended, so the simulated groups exercise the accuracy filter the way real ones do.
export function simulatedText(answer: string, correct: boolean): string {
  const n = Number(answer);
  const wrong = Number.isFinite(n) ? String(n + 1) : `${answer}x`;
  return `worked it out\n#### ${correct ? answer : wrong}`;
}
