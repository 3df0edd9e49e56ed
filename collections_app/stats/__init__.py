"""The dashboard's figures: daily rollups and the metrics read from them."""
