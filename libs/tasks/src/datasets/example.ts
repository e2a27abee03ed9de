// What every dataset row becomes: a prompt (plain text or a chat) and the reference answer the verifier
// compares against. `solution` is the worked solution when the dataset has one (for SFT).

export interface ChatMessage {
  role: string;
  content: string;
}

export interface TaskExample {
  /** `<file name>#<row>`: stable across runs for the same file, and points at the row. */
  id: string;
  prompt: string | ChatMessage[];
  answer: string;
  solution?: string;
}
