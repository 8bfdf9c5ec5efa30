// The machine block of every bench report: what ran the figures, and how busy
// it was (the 1, 5 and 15 minute load averages before and after: timings on a
// busy machine are slower and noisier).
import { cpus, loadavg, totalmem } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';

const round2 = (v: number) => Math.round(v * 100) / 100;

/** `loadStart`: loadavg() taken when the measurements began. */
export function machineInfo(loadStart: number[]) {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model,
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    tfjs: tf.version_core,
    loadAverage: { start: loadStart.map(round2), end: loadavg().map(round2) },
  };
}
