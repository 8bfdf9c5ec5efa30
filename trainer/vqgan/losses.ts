// The VQ-GAN's loss terms (TATS / Medical Diffusion `VQGAN.forward`), each a
// scalar mean; weights are applied by the trainer.
import * as tf from '@tensorflow/tfjs-core';

/** mean |a - b| (reconstruction, weight 4 in Medical Diffusion). */
export function l1Loss(a: tf.Tensor, b: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.abs(tf.sub(a, b))));
}

/** mean (z - sg(zq))^2: the commitment term of VQ-VAE (van den Oord et al. 2017, eq. 3) before beta; zq carries no gradient. */
export function commitmentLoss(z: tf.Tensor, zq: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.squaredDifference(z, zq)));
}

/** Hinge loss of the discriminator (Lim and Ye 2017): 0.5 (E[relu(1 - D(x))] + E[relu(1 + D(x^))]). */
export function hingeDiscriminatorLoss(realLogits: tf.Tensor, fakeLogits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mul(tf.add(tf.mean(tf.relu(tf.sub(1, realLogits))), tf.mean(tf.relu(tf.add(1, fakeLogits)))), 0.5));
}

/** Hinge loss of the generator: -E[D(x^)]. */
export function hingeGeneratorLoss(fakeLogits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(fakeLogits)) as tf.Scalar);
}

/**
 * GAN feature matching (Wang et al. 2018, pix2pixHD eq. 4): (4 / n) sum_i
 * mean |D_i(x^) - D_i(x)| over the n intermediate feature maps, real ones
 * held fixed. TATS weights each layer 4 / (3 + 1), i.e. this for the default
 * 3 discriminator layers; 4 / n keeps the scale for other depths.
 */
export function featureMatchingLoss(fake: readonly tf.Tensor[], real: readonly tf.Tensor[]): tf.Scalar {
  if (fake.length !== real.length || fake.length === 0) throw new Error(`featureMatchingLoss: ${fake.length} fake and ${real.length} real feature maps`);
  return tf.tidy(() => tf.mul(tf.addN(fake.map((f, i) => l1Loss(f, real[i]))), 4 / fake.length));
}
