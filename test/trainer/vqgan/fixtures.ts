// What the VQ-GAN suites train on: Gaussian blob volumes of side S and a
// VQ-GAN small enough to train a few steps in a test.
export const S = 8;

/** A Gaussian blob in [-1, 1] centred at (cz, cy, cx) with radius r, [S, S, S] row-major. */
export const blob = (cz: number, cy: number, cx: number, r: number) =>
  Float32Array.from({ length: S ** 3 }, (_, i) => {
    const [z, y, x] = [Math.floor(i / S / S), Math.floor(i / S) % S, i % S];
    return 2 * Math.exp(-((z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2) / (r * r)) - 1;
  });

/** A VqganTrainer config: 16 codes of 4 dims on a 2x2x2 latent grid, small discriminators. */
export const TINY_VQGAN = {
  shape: [S, S, S],
  model: { nHiddens: 4, groups: 4, nCodes: 16, embeddingDim: 4, downsample: [2, 2, 2] },
  discChannels: 4,
  discLayers: 2,
  discGroups: 4,
  lr: 2e-3,
};
