import test from 'ava';
import { credentialsFromSecretData, openStore, s3SettingsFromEnv, s3SettingsFromSpec } from '../../../operator/store/open.ts';
import { parseS3Uri, S3Store } from '../../../operator/store/s3-store.ts';
import { FsStore } from '../../../operator/store/fs-store.ts';

test('s3:// URIs: bucket and prefix; bad ones are errors naming the URI and the form expected', (t) => {
  t.deepEqual(parseS3Uri('s3://my-bucket'), { bucket: 'my-bucket', prefix: '' });
  t.deepEqual(parseS3Uri('s3://my-bucket/'), { bucket: 'my-bucket', prefix: '' });
  t.deepEqual(parseS3Uri('s3://my.bucket-1/runs/team-a/'), { bucket: 'my.bucket-1', prefix: 'runs/team-a' });
  for (const bad of ['s3://', 's3://A_Bucket/x', 's3://ab', 's3://b-ok/a/../b', 's3://b-ok/a//b']) {
    t.throws(() => parseS3Uri(bad), { message: new RegExp(`storage.uri ${JSON.stringify(bad).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`) }, bad);
  }
});

test('S3 settings from a Pod environment: endpoint, region, path style; a bad path-style value is named', (t) => {
  t.deepEqual(s3SettingsFromEnv({}), {});
  t.deepEqual(s3SettingsFromEnv({ AWS_ENDPOINT_URL_S3: 'http://s3.local:9000', AWS_REGION: 'eu-west-1', ENTROPO_S3_FORCE_PATH_STYLE: 'false' }), {
    endpoint: 'http://s3.local:9000',
    region: 'eu-west-1',
    forcePathStyle: false,
  });
  t.deepEqual(s3SettingsFromEnv({ AWS_ENDPOINT_URL: 'http://generic:1', AWS_DEFAULT_REGION: 'us-west-2' }), { endpoint: 'http://generic:1', region: 'us-west-2' });
  t.throws(() => s3SettingsFromEnv({ ENTROPO_S3_FORCE_PATH_STYLE: 'yes' }), { message: /ENTROPO_S3_FORCE_PATH_STYLE="yes": expected true or false/ });
});

test('credentials from a Secret: base64 data decoded; a missing key names the Secret and the key', (t) => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  t.deepEqual(credentialsFromSecretData('ns/s', { AWS_ACCESS_KEY_ID: b64('AK'), AWS_SECRET_ACCESS_KEY: b64('SK') }), { accessKeyId: 'AK', secretAccessKey: 'SK' });
  t.deepEqual(credentialsFromSecretData('ns/s', { AWS_ACCESS_KEY_ID: b64('AK'), AWS_SECRET_ACCESS_KEY: b64('SK'), AWS_SESSION_TOKEN: b64('T') }).sessionToken, 'T');
  t.throws(() => credentialsFromSecretData('ns/s', { AWS_ACCESS_KEY_ID: b64('AK') }), { message: 'Secret ns/s: no AWS_SECRET_ACCESS_KEY in its data (spec.storage.s3.credentialsSecretRef)' });
  t.throws(() => credentialsFromSecretData('ns/s', undefined), { message: /no AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY/ });
  t.deepEqual(s3SettingsFromSpec({ endpoint: 'http://e:1', region: 'r', forcePathStyle: false, credentialsSecretRef: { name: 's' } }, { accessKeyId: 'a', secretAccessKey: 'b' }), {
    endpoint: 'http://e:1',
    region: 'r',
    forcePathStyle: false,
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
  });
});

test('openStore: each scheme to its backend; path style by default only with a custom endpoint; unknown schemes named', async (t) => {
  t.true(openStore('file:///tmp/x') instanceof FsStore);
  t.is((openStore('pvc://claim/p', { pvcMount: '/mnt' }) as FsStore).root, '/mnt/p');
  const custom = openStore('s3://bucket-a/p', { s3: { endpoint: 'http://127.0.0.1:1' } }) as S3Store;
  t.true(custom instanceof S3Store);
  t.true(await custom.client.config.forcePathStyle!);
  t.is(custom.objectKey('x/y.json'), 'p/x/y.json');
  const aws = openStore('s3://bucket-a', { s3: { region: 'eu-west-1' } }) as S3Store;
  t.false(await aws.client.config.forcePathStyle!);
  t.is(await aws.client.config.region(), 'eu-west-1');
  t.is(aws.objectKey('x'), 'x');
  t.throws(() => openStore('gs://b/x'), { message: /storage.uri "gs:\/\/b\/x": expected file:\/\/\/dir, pvc:\/\/claim\[\/prefix\] or s3:\/\/bucket\[\/prefix\]/ });
  await t.throwsAsync(() => custom.put('../x', 'y'), { message: /invalid artifact key/ });
});
