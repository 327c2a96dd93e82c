/**
 * A small built-in price table for EC2 offers: APPROXIMATE on-demand list prices in USD per
 * hour for Linux, region us-east-1, as shown on the public "Amazon EC2 On-Demand Pricing" page
 * in 2024 (from memory of that page, not fetched at run time). Other regions usually cost
 * 5–30 % more, prices change, and discounts, Savings Plans and Spot are ignored. Use it to rank
 * offers, never to bill; the cloud option `prices` (instance type → USD/hour) overrides entries.
 */
export const EC2_PRICE_SOURCE = 'AWS EC2 On-Demand pricing page, Linux, us-east-1, 2024 list prices (approximate)';

export const EC2_APPROX_PRICES_USD: Readonly<Record<string, number>> = {
  't2.micro': 0.0116, 't2.small': 0.023, 't2.medium': 0.0464, 't2.large': 0.0928,
  't3.nano': 0.0052, 't3.micro': 0.0104, 't3.small': 0.0208, 't3.medium': 0.0416, 't3.large': 0.0832, 't3.xlarge': 0.1664,
  't3a.micro': 0.0094, 't3a.small': 0.0188, 't3a.medium': 0.0376, 't3a.large': 0.0752,
  't4g.micro': 0.0084, 't4g.small': 0.0168, 't4g.medium': 0.0336, 't4g.large': 0.0672,
  'm5.large': 0.096, 'm5.xlarge': 0.192, 'm5.2xlarge': 0.384, 'm5.4xlarge': 0.768,
  'm6i.large': 0.096, 'm6i.xlarge': 0.192, 'm6i.2xlarge': 0.384,
  'm7i.large': 0.1008, 'm7i.xlarge': 0.2016,
  'c5.large': 0.085, 'c5.xlarge': 0.17, 'c5.2xlarge': 0.34, 'c5.4xlarge': 0.68,
  'c6i.large': 0.085, 'c6i.xlarge': 0.17, 'c6i.2xlarge': 0.34,
  'r5.large': 0.126, 'r5.xlarge': 0.252, 'r5.2xlarge': 0.504,
  'r6i.large': 0.126, 'r6i.xlarge': 0.252,
};
