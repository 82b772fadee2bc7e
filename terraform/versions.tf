# Providers and the state backend. The S3 bucket and DynamoDB lock table are made once by setup-backend.sh,
# which also writes backend.hcl:  terraform init -backend-config=backend.hcl
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.60"
    }
    kafka = {
      source  = "Mongey/kafka"
      version = "~> 0.8"
    }
    tls = {
      source  = "hashicorp/tls"
      version = "~> 4.0"
    }
  }

  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "leadpoet"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}

# Topics are made through the brokers themselves: `terraform apply` must run where they are reachable
# (inside the VPC, e.g. from a bastion or a CI runner in it). MSK's IAM authentication is used.
provider "kafka" {
  bootstrap_servers = split(",", module.msk.bootstrap_brokers_iam)
  tls_enabled       = true
  sasl_mechanism    = "aws-iam"
  sasl_aws_region   = var.region
}
