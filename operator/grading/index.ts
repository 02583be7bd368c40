/** Grading with SWE-bench semantics: log parsers, the resolved rule, work trees and patches, evaluatePatch. */
export * from './parse.ts';
export * from './grade.ts';
export * from './exec.ts';
export * from './worktree.ts';
export * from './evaluate.ts';
export * from './checkout.ts';
export * from './patch-paths.ts';
export * from './integrity.ts';
export * from './run.ts';
export * from './harness-report.ts';
