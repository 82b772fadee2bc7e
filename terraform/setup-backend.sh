#!/usr/bin/env bash
# setup-backend.sh REGION [STATE_BUCKET] [LOCK_TABLE]: makes the S3 bucket (versioned, encrypted, private)
# that holds Terraform's state and the DynamoDB table that locks it, once per AWS account, then writes
# backend.hcl for `terraform init -backend-config=backend.hcl`. Idempotent: what exists is kept.
# Needs the aws CLI with credentials allowed to create both.
set -euo pipefail

region=${1:?usage: setup-backend.sh REGION [STATE_BUCKET] [LOCK_TABLE]}
account=$(aws sts get-caller-identity --query Account --output text)
bucket=${2:-leadpoet-tfstate-$account-$region}
table=${3:-leadpoet-tflock}
here=$(cd "$(dirname "$0")" && pwd)

if aws s3api head-bucket --bucket "$bucket" 2>/dev/null; then
  echo "bucket $bucket exists"
else
  if [ "$region" = us-east-1 ]; then
    aws s3api create-bucket --bucket "$bucket" --region "$region" >/dev/null
  else
    aws s3api create-bucket --bucket "$bucket" --region "$region" \
      --create-bucket-configuration LocationConstraint="$region" >/dev/null
  fi
  echo "bucket $bucket created"
fi
aws s3api put-bucket-versioning --bucket "$bucket" --versioning-configuration Status=Enabled
aws s3api put-bucket-encryption --bucket "$bucket" --server-side-encryption-configuration \
  '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'
aws s3api put-public-access-block --bucket "$bucket" --public-access-block-configuration \
  BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true

if aws dynamodb describe-table --table-name "$table" --region "$region" >/dev/null 2>&1; then
  echo "lock table $table exists"
else
  aws dynamodb create-table --table-name "$table" --region "$region" \
    --attribute-definitions AttributeName=LockID,AttributeType=S \
    --key-schema AttributeName=LockID,KeyType=HASH \
    --billing-mode PAY_PER_REQUEST >/dev/null
  aws dynamodb wait table-exists --table-name "$table" --region "$region"
  echo "lock table $table created"
fi

cat >"$here/backend.hcl" <<HCL
bucket         = "$bucket"
key            = "leadpoet/terraform.tfstate"
region         = "$region"
dynamodb_table = "$table"
encrypt        = true
HCL
echo "wrote $here/backend.hcl: terraform init -backend-config=backend.hcl"
