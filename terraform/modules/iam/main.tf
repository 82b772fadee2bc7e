# The IAM role that the leadpoet pods assume through their service account (IRSA): MSK access with IAM
# authentication to the leadpoet topics and consumer groups, nothing else.
variable "name" {
  description = "Prefix of the role's name."
  type        = string
}

variable "oidc_provider_arn" {
  description = "ARN of the EKS cluster's OIDC provider."
  type        = string
}

variable "oidc_issuer_url" {
  description = "Issuer URL of the EKS cluster's OIDC tokens."
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace of the pods."
  type        = string
}

variable "service_accounts" {
  description = "Service accounts (in namespace) that may assume the role."
  type        = list(string)
}

variable "msk_cluster_arn" {
  description = "ARN of the MSK cluster."
  type        = string
}

locals {
  issuer = replace(var.oidc_issuer_url, "https://", "")
  # arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID -> the topic and group ARNs of the same cluster.
  msk_parts = split("/", var.msk_cluster_arn)
  msk_base  = replace(local.msk_parts[0], ":cluster", "")
  msk_rest  = join("/", slice(local.msk_parts, 1, length(local.msk_parts)))
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:sub"
      values   = [for sa in var.service_accounts : "system:serviceaccount:${var.namespace}:${sa}"]
    }
  }
}

resource "aws_iam_role" "pods" {
  name               = "${var.name}-pods"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "msk" {
  statement {
    sid       = "Connect"
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]
    resources = [var.msk_cluster_arn]
  }
  statement {
    sid = "Topics"
    actions = [
      "kafka-cluster:DescribeTopic", "kafka-cluster:ReadData", "kafka-cluster:WriteData",
    ]
    resources = [
      "${local.msk_base}:topic/${local.msk_rest}/miner.snippets*",
      "${local.msk_base}:topic/${local.msk_rest}/outcome.events*",
    ]
  }
  statement {
    sid       = "ConsumerGroups"
    actions   = ["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"]
    resources = ["${local.msk_base}:group/${local.msk_rest}/leadpoet*"]
  }
}

resource "aws_iam_role_policy" "msk" {
  name   = "msk"
  role   = aws_iam_role.pods.id
  policy = data.aws_iam_policy_document.msk.json
}

output "role_arn" {
  description = "ARN of the pods' role: the eks.amazonaws.com/role-arn annotation of their service account."
  value       = aws_iam_role.pods.arn
}
