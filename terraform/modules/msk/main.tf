# The MSK cluster that carries miner.snippets and outcome.events (topics: module msk/topics). One broker per
# private subnet (zone); clients are admitted from the EKS nodes' security group and authenticate with IAM
# over TLS. Topics are never auto-created: a typo in a producer fails instead of making a one-partition topic.
variable "name" {
  description = "Name of the cluster and prefix of its resources."
  type        = string
}

variable "kafka_version" {
  description = "Apache Kafka version."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the brokers."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets, one broker in each."
  type        = list(string)
}

variable "client_security_group" {
  description = "Security group of the clients (EKS nodes) allowed to reach the brokers."
  type        = string
}

variable "broker_instance_type" {
  description = "Instance type of the brokers."
  type        = string
}

variable "broker_volume_gb" {
  description = "EBS storage of each broker, in GiB."
  type        = number
}

resource "aws_security_group" "brokers" {
  name        = "${var.name}-msk"
  description = "MSK brokers of leadpoet."
  vpc_id      = var.vpc_id

  ingress {
    description     = "Kafka over TLS with IAM authentication, from the EKS nodes."
    from_port       = 9098
    to_port         = 9098
    protocol        = "tcp"
    security_groups = [var.client_security_group]
  }
}

resource "aws_msk_configuration" "this" {
  name           = "${var.name}-config"
  kafka_versions = [var.kafka_version]

  server_properties = <<-PROPERTIES
    auto.create.topics.enable=false
    default.replication.factor=3
    min.insync.replicas=2
    unclean.leader.election.enable=false
  PROPERTIES
}

resource "aws_msk_cluster" "this" {
  cluster_name           = var.name
  kafka_version          = var.kafka_version
  number_of_broker_nodes = length(var.subnet_ids)

  broker_node_group_info {
    instance_type   = var.broker_instance_type
    client_subnets  = var.subnet_ids
    security_groups = [aws_security_group.brokers.id]
    storage_info {
      ebs_storage_info {
        volume_size = var.broker_volume_gb
      }
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.this.arn
    revision = aws_msk_configuration.this.latest_revision
  }

  client_authentication {
    sasl {
      iam = true
    }
  }

  encryption_info {
    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }
}

output "cluster_arn" {
  description = "ARN of the MSK cluster (IAM policies of its clients)."
  value       = aws_msk_cluster.this.arn
}

output "bootstrap_brokers_iam" {
  description = "host:port,... of the brokers for IAM-authenticated TLS clients: KAFKA_BOOTSTRAP_BROKERS."
  value       = aws_msk_cluster.this.bootstrap_brokers_sasl_iam
}

output "security_group_id" {
  description = "Security group of the brokers."
  value       = aws_security_group.brokers.id
}
