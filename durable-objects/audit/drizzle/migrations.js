import journal from './meta/_journal.json';
import m0000 from './0000_thankful_silver_surfer.sql';
import m0001 from './0001_amusing_kate_bishop.sql';
import m0002 from './0002_fts.sql';

  export default {
    journal,
    migrations: {
      m0000,
m0001,
m0002
    }
  }
  