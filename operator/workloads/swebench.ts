/**
 * Task images (pure). SWE-bench publishes one evaluation image per instance on Docker Hub as
 * `swebench/sweb.eval.x86_64.<id>:latest`, where the `__` in an instance id is written `_1776_`
 * (Docker Hub repository names cannot hold `__`) and the name is lower case; the harness's
 * local tag `sweb.eval.x86_64.<id>` exists only on a machine that built it, so using it in a Pod
 * fails every pull.
 */

/** The published SWE-bench evaluation image of an instance, e.g. django__django-11099 -> swebench/sweb.eval.x86_64.django_1776_django-11099:latest. */
export function sweBenchImage(instanceId: string, namespace = 'swebench'): string {
  return `${namespace}/sweb.eval.x86_64.${instanceId.replace(/__/g, '_1776_').toLowerCase()}:latest`;
}

/**
 * The task container's image: spec.sandbox.image when set, else the task's own image (SWE-bench:
 * the record's `image`, else the published image of its id), else (self-contained tasks) the base
 * image with Python, Node and git.
 */
export function sandboxImage(task: { id: string; format: 'swe-bench' | 'self-contained'; image?: string }, override: string | undefined, baseImage: string): string {
  if (override) return override;
  if (task.image) return task.image;
  return task.format === 'swe-bench' ? sweBenchImage(task.id) : baseImage;
}
