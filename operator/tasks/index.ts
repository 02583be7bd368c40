/** Task datasets (SWE-bench JSONL, self-contained JSONL, built-in suites) and their selection. */
export * from './dataset.ts';
export * from './suite.ts';
export { unifiedDiff, unifiedDiffOfFiles } from './diff.ts';
