/** Exit statuses shared by `entropo sandbox` and its phases, and what a phase reports. */
export const EXIT_SAMPLE = 0;
export const EXIT_CONFIG = 2;
export const EXIT_NO_SAMPLE = 3;

export interface PhaseResult {
  /** 0 done; 2 the assignment is wrong; 3 no sample (infrastructure, retry). */
  exitCode: number;
  /** One line for the log / stdout (the summary JSON for agent and grade). */
  message: string;
}
