#!/bin/bash
useradd -m -c "context deploy" deploy
usermod -aG docker deploy
useradd -m -c "context ec2-user" ec2-user
usermod -aG docker ec2-user
echo "/home/deploy/context"
